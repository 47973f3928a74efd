"""Mail that cannot be imported is quarantined with its error, never blocks the mail behind it, and can be retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.records import MailboxCheckpoint, QuarantinedMail
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.errors import Conflict, Forbidden
from core.records import EntryKind, TimelineEntry
from mail.helpers import append, eventually, make_agent


async def held(services: Services) -> list[QuarantinedMail]:
    async with services.db.session() as session:
        return list((await session.execute(select(QuarantinedMail).order_by(QuarantinedMail.id))).scalars())


async def test_broken_and_oversized_mail_is_held_and_the_next_mail_still_arrives(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    small = support.model_copy(update={"max_message_bytes": 4096})
    channel.importers["support"].mailbox = small
    channel.ingests["support"].mailbox = small
    big = compose(sender="big@example.com", subject="huge scan", body="x" * 10_000)
    await append(
        support,
        b"\x00\x01 this is not a mail at all\r\n\r\n\xff\xfe",
        big,
        compose(sender="fine@example.com", subject="after the broken ones"),
    )
    channel.start(outbox=False)

    async def three_handled() -> bool:
        async with mail_services.db.session() as session:
            cp = await session.get(MailboxCheckpoint, "support", populate_existing=True)
            return cp is not None and cp.last_uid == 3

    await eventually(three_handled)
    rows = await held(mail_services)
    assert [r.uid for r in rows] == [1, 2]
    assert "no sender" in rows[0].error and "limit" in rows[1].error
    async with mail_services.db.session() as session:
        entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().all()
    assert [e.payload["from"] for e in entries] == ["fine@example.com"]

    ops = await make_agent(mail_services, "olga", ("ops",))
    agent = await make_agent(mail_services, "alice", ("agent",))
    with pytest.raises(Forbidden):
        await channel.quarantine.retry(agent, rows[1].id)
    still_broken = await channel.quarantine.retry(ops, rows[0].id)
    assert still_broken.outcome == "quarantined"
    released = await channel.quarantine.retry(ops, rows[1].id)  # ops let the big one in
    assert released.outcome == "imported" and released.ticket_id is not None
    with pytest.raises(Conflict):
        await channel.quarantine.retry(ops, rows[1].id)
    after = await held(mail_services)
    assert [(r.status, r.attempts) for r in after] == [("held", 2), ("released", 2)]
