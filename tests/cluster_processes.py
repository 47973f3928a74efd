"""The cluster tests' harness: N real ``frontdesk serve`` processes on one PostgreSQL database,
each on its own port, ``/readyz`` awaited, any of them killable with SIGKILL. It lives in
``config.cluster_processes`` so that ``frontdesk bench cluster`` starts instances the same way.
Here too: what the cluster tests drive them with (a counting PBX, customers' mail)."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage

from channels.settings import MailboxSettings
from config.cluster_processes import Cluster, Instance, free_port
from cti.parser import Frame
from cti.simulator import AmiSimulator, _Client

__all__ = ["Cluster", "CountingPbx", "Instance", "append_mail", "free_port", "order_mail", "pbx_connected"]


class CountingPbx(AmiSimulator):
    """The AMI simulator, counting each Originate by its channel id and the links logged in at once."""

    def __init__(self) -> None:
        super().__init__("cti", "s3cret", queues={"support": ["PJSIP/1001", "PJSIP/1002"]}, answer_delay_s=0.05)
        self.originated: Counter[str] = Counter()
        self.most_links = 0

    def _action_originate(self, client: _Client, request: Frame) -> None:
        self.originated[request.get("ChannelId", "")] += 1
        super()._action_originate(client, request)

    def sample(self) -> None:
        self.most_links = max(self.most_links, len(self.clients))


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
