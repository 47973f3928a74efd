"""A customer's follow-up to a ticket that was merged away lands in the ticket it was merged into."""

from __future__ import annotations

from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.records import EntryKind, Ticket, TimelineEntry
from mail.helpers import append, eventually, make_agent
from routing.merging import merge


async def test_a_reply_on_the_merged_tickets_thread_joins_the_survivor(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings, customer_box: MailboxSettings
) -> None:
    first = compose(sender=customer_box.address, to=support.address, subject="Parcel missing",
                    message_id="<m-first@example.net>")
    second = compose(sender=customer_box.address, to=support.address, subject="Where is my parcel??",
                     message_id="<m-second@example.net>")
    await append(support, first, second)
    channel.start()

    async def two_tickets() -> list[Ticket] | None:
        async with mail_services.db.session() as session:
            found = list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars())
            return found if len(found) == 2 else None

    survivor, merged = await eventually(two_tickets)
    agent = await make_agent(mail_services)
    async with mail_services.db.session() as session:
        await merge(mail_services.desk, session, agent, merged.id, survivor.id)
        await mail_services.desk.commit_and_publish(session)

    follow_up = compose(sender=customer_box.address, to=support.address, subject="Re: Where is my parcel??",
                        message_id="<m-third@example.net>", in_reply_to="<m-second@example.net>")
    await append(support, follow_up)

    async def landed() -> list[int] | None:
        async with mail_services.db.session() as session:
            rows = (await session.execute(
                select(TimelineEntry.ticket_id).where(TimelineEntry.kind == EntryKind.EMAIL_IN.value)
                .order_by(TimelineEntry.id))).scalars().all()
            return list(rows) if len(rows) == 3 else None

    assert await eventually(landed) == [survivor.id, survivor.id, survivor.id]
    async with mail_services.db.session() as session:
        assert len((await session.execute(select(Ticket))).scalars().all()) == 2  # no new ticket
