"""Mail over TLS: IMAPS and STARTTLS in, STARTTLS out, verified against the CA the config names."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from mail_fixtures import need_dovecot
from sqlalchemy import select

from channels.dovecot import ThrowawayDovecot
from channels.imap import connect
from channels.plugin import EmailChannel
from channels.samples import compose
from channels.sink import MailSink
from config.services import Services
from core.records import EntryKind, OutboxMessage, TimelineEntry
from mail.helpers import append, eventually, mailbox_reading


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def tls_dovecot(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayDovecot]:
    need_dovecot()
    folder = tmp_path_factory.mktemp("imap-cert")
    issued = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = folder / "chain.pem", folder / "key.pem"
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    issued.private_key_pem.write_to_path(str(key))
    server = ThrowawayDovecot({"support": "secret"}, tls=(chain, key)).start()
    yield server
    server.cleanup()


async def _subjects(services: Services) -> list[str]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN).order_by(TimelineEntry.id)
        return [e.payload["subject"] for e in (await session.execute(stmt)).scalars()]


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_arrives_over_imaps_and_starttls(
    security: str, tls_dovecot: ThrowawayDovecot, ca_file: Path, mail_services: Services
) -> None:
    box = tls_dovecot.mailbox("support", security=security, ca_file=str(ca_file), acknowledge=False)
    mail_services.settings.mailboxes[:] = [box]
    subject = f"sent to the {security} mailbox"
    await append(box, compose(sender="secure@example.com", subject=subject))
    channel = EmailChannel(mail_services)
    channel.start(outbox=False)
    try:
        await eventually(lambda: _has(mail_services, subject))
        await mailbox_reading(mail_services)
    finally:
        await channel.stop()


async def _has(services: Services, subject: str) -> bool:
    return subject in await _subjects(services)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_server_whose_certificate_we_cannot_verify_is_refused(security: str, tls_dovecot: ThrowawayDovecot) -> None:
    box = tls_dovecot.mailbox("support", security=security)  # no ca_file: the system's CAs do not know ours
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(box)


async def test_replies_leave_over_smtp_starttls(ca: trustme.CA, ca_file: Path, mail_services: Services) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    sink = await MailSink().start(starttls=server_context)
    smtp = mail_services.settings.smtp.model_copy(
        update={"port": sink.port, "security": "starttls", "ca_file": str(ca_file)}
    )
    mail_services.settings.smtp = smtp
    channel = EmailChannel(mail_services)
    try:
        async with mail_services.db.transaction() as session:
            session.add(OutboxMessage(channel="email", recipient="customer@example.com", subject="Your order", body="On its way."))
        await channel.outbox.run_once()  # the sender's own pass, without the mailbox reader around it
        assert [m.recipients for m in sink.messages] == [["customer@example.com"]]
    finally:
        await channel.stop()
        await sink.stop()
