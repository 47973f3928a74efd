"""The mailbox link: polling when IDLE is not used, moving imported mail, and coming back after a server restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mail_fixtures import need_dovecot
from sqlalchemy import select

from channels.dovecot import ThrowawayDovecot
from channels.plugin import EmailChannel
from channels.samples import compose
from channels.settings import MailboxSettings
from config.app import build_services
from config.services import Services
from core.records import EntryKind, TimelineEntry
from mail.helpers import append, eventually, fetch_all, mailbox_reading


async def senders(services: Services) -> list[str]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN).order_by(TimelineEntry.id)
        return [e.payload["from"] for e in (await session.execute(stmt)).scalars()]


async def test_polling_imports_and_moves_mail_to_the_processed_folder(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    polling = support.model_copy(update={"idle": False, "poll_interval": 0.2, "processed_folder": "Done"})
    channel.importers["support"].mailbox = polling
    channel.ingests["support"].mailbox = polling
    await append(support, compose(sender="first@example.com", subject="one"))
    channel.start(outbox=False)
    await eventually(lambda: _has(mail_services, 1))
    await append(support, compose(sender="second@example.com", subject="two"))
    await eventually(lambda: _has(mail_services, 2))
    assert channel.ingests["support"].mode == "polling"

    async def moved() -> bool:
        return len(await fetch_all(support)) == 0 and len(await fetch_all(support, folder="Done")) == 2

    await eventually(moved)


async def _has(services: Services, count: int) -> bool:
    return len(await senders(services)) >= count


@pytest.fixture
def own_dovecot() -> Iterator[ThrowawayDovecot]:
    need_dovecot()
    server = ThrowawayDovecot({"support": "secret"}).start()
    yield server
    server.cleanup()


async def test_the_ingest_reconnects_after_the_imap_server_restarts(
    own_dovecot: ThrowawayDovecot, mail_services: Services
) -> None:
    box = own_dovecot.mailbox("support")
    mail_services.settings.mailboxes[:] = [box]
    channel = EmailChannel(mail_services)
    channel.start(outbox=False)
    try:
        await append(box, compose(sender="before@example.com", subject="before the restart"))
        await eventually(lambda: _has(mail_services, 1))
        own_dovecot.restart()
        await append(box, compose(sender="after@example.com", subject="after the restart"))
        # Reconnect attempts back off 1, 2, 4, 8, 16 s while the server is down: a slow restart costs one more.
        await eventually(lambda: _has(mail_services, 2), within=45)
        assert await senders(mail_services) == ["before@example.com", "after@example.com"]
        await mailbox_reading(mail_services)
        assert channel.tasks[0].restarts >= 1
    finally:
        await channel.stop()


@pytest.mark.postgres_only  # one process per SQLite database: the reader lock is PostgreSQL's
async def test_two_instances_share_a_mailbox_one_reads_the_other_stands_by(
    mail_services: Services, support: MailboxSettings
) -> None:
    box = support.model_copy(update={"poll_interval": 0.2})
    mail_services.settings.mailboxes[:] = [box]
    # Two instances: each its own services (database pool and ownership lock connection).
    other = build_services(mail_services.settings)
    first, second = EmailChannel(mail_services), EmailChannel(other)
    first.start(outbox=False)
    await eventually(lambda: _mode(first, "idle"))
    second.start(outbox=False)
    try:
        # The second instance stands by: the mailbox is the first one's, it does not read.
        assert "mailbox:support" in mail_services.ownership.owns()
        assert other.ownership.owns() == [] and second.ingests["support"].mode == "starting"
        await append(box, *(compose(sender=f"s{n}@example.com", subject=f"m{n}") for n in range(20)))
        await eventually(lambda: _has(mail_services, 20))
        await first.stop()  # the reader goes away: the standby takes over
        await append(box, compose(sender="late@example.com", subject="after the fail-over"))
        await eventually(lambda: _has(mail_services, 21))
        assert second.ingests["support"].mode == "idle"
        assert second.importers["support"].quarantined == first.importers["support"].quarantined == 0
        imported = await senders(mail_services)
        assert len(imported) == len(set(imported)) == 21  # every mail once: none lost, none read twice
    finally:
        await first.stop()
        await second.stop()
        await other.ownership.close()
        await other.db.close()


async def _mode(channel: EmailChannel, mode: str) -> bool:
    return channel.ingests["support"].mode == mode
