"""The mailbox link: polling when IDLE is not used, moving imported mail, and coming back after a server restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

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


@contextlib.asynccontextmanager
async def link_dropped_at_first_idle(port: int) -> AsyncIterator[int]:
    """A loopback relay to the IMAP server that ends the first session as its client sends IDLE,
    before the server can answer (a server going away at that moment); later sessions pass."""
    sessions = 0

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        drop_at_idle = sessions == 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, watch: bool) -> None:
            while data := await source.read(65536):
                if watch and b" IDLE\r\n" in data:
                    break
                sink.write(data)
                await sink.drain()

        pumps = [asyncio.create_task(pump(reader, up_writer, drop_at_idle)), asyncio.create_task(pump(up_reader, writer, False))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        writer.close()
        up_writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_link_lost_as_idle_starts_is_noticed_and_reconnected(
    own_dovecot: ThrowawayDovecot, mail_services: Services
) -> None:
    box = own_dovecot.mailbox("support")
    await append(box, compose(sender="before@example.com", subject="read before IDLE"))
    async with link_dropped_at_first_idle(box.port) as relay_port:
        mail_services.settings.mailboxes[:] = [box.model_copy(update={"port": relay_port})]
        channel = EmailChannel(mail_services)
        channel.start(outbox=False)
        try:
            await eventually(lambda: _has(mail_services, 1))
            await append(box, compose(sender="after@example.com", subject="sent while the new link idles"))
            await eventually(lambda: _has(mail_services, 2))
            assert await senders(mail_services) == ["before@example.com", "after@example.com"]
            assert channel.tasks[0].restarts == 1
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
