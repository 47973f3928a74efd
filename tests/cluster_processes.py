"""The cluster tests' harness: N real ``frontdesk serve`` processes on one PostgreSQL database,
each on its own port, ``/readyz`` awaited, any of them killable with SIGKILL. It lives in
``config.cluster_processes`` so that ``frontdesk bench cluster`` starts instances the same way.
Here too: what the cluster tests drive them with (a counting PBX, customers' mail)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from channels.settings import MailboxSettings
from config.cluster_processes import Cluster, CountingPbx, Instance, free_port

__all__ = ["Cluster", "CountingPbx", "Instance", "append_mail", "cluster_config", "counting_pbx", "free_port", "order_mail",
           "pbx_connected"]



def counting_pbx() -> CountingPbx:
    """The simulator the tests' settings (``cluster_config``) log in to: two agents in ``support``."""
    return CountingPbx("cti", "s3cret", queues={"support": ["PJSIP/1001", "PJSIP/1002"]})



def cluster_config(database_url: str, pbx: CountingPbx, box: MailboxSettings, **more: Any) -> dict[str, Any]:
    """The instances' settings: one PBX link (``pbx:sim``) and one mailbox to own, quick to notice a loss."""
    return {
        "database_url": database_url,
        "log_level": "WARNING",
        "web": {"secret_key": "k" * 40},
        "pbx": [{"name": "sim", "port": pbx.port, "username": "cti", "secret": "s3cret", "md5_auth": True,
                 "ping_interval": 1.0, "action_timeout": 2.0, "reconnect_max_s": 0.5}],
        "mailboxes": [{**box.model_dump(mode="json"), "password": "secret"}],
        **more,
    }


def order_mail(run: str, n: int) -> bytes:
    """A customer's mail, its Message-ID unique per run and number (to count imports by)."""
    msg = EmailMessage()
    msg["From"] = f"customer{n}@example.net"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Order {run}-{n} did not arrive"
    msg["Message-ID"] = f"<{run}-{n}@example.net>"
    msg.set_content(f"Hello, my order number {n} is late.")
    return msg.as_bytes()


async def append_mail(box: MailboxSettings, raw: bytes) -> None:
    from channels.imap import connect

    client = await connect(box)
    try:
        assert (await client.append(raw, mailbox=box.folder)).result == "OK"
    finally:
        await client.logout()


async def pbx_connected(cluster: Cluster, owner: Instance, pbx: str = "pbx:sim") -> bool:
    """Whether ``owner``'s ``/readyz`` says its link to ``pbx`` is up."""
    body = await cluster.readyz(owner)
    return body is not None and "connected" in body["components"].get(pbx, {}).get("detail", "")
