"""Real traffic through real ingest: customers writing several unrelated requests get one ticket
and one acknowledgement per request; only a reply joins its ticket (issue 12's 531-of-827 finding)."""

from __future__ import annotations

from sqlalchemy import func, select

from channels.plugin import EmailChannel
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.records import EntryKind, OutboxMessage, Ticket, TimelineEntry
from mail.helpers import append, eventually

REQUESTS = ["Question about upgrading my plan", "Refund request for invoice 2231", "退款申请：订单 88"]


async def _entries(services: Services) -> list[TimelineEntry]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN).order_by(TimelineEntry.id)
        return list((await session.execute(stmt)).scalars())


async def test_unrelated_requests_are_one_ticket_and_one_acknowledgement_each(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    senders = ["ana@example.com", "bo@example.cn", "carla@example.es"]
    mails = [compose(sender=s, subject=subject, message_id=f"<{n}.{s}>")
             for s in senders for n, subject in enumerate(REQUESTS)]
    mails.append(compose(sender="ana@example.com", subject="Re: Refund request for invoice 2231",
                         in_reply_to="<1.ana@example.com>", references=["<1.ana@example.com>"]))
    await append(support, *mails)
    channel.start(outbox=False)

    async def all_in() -> list[TimelineEntry] | None:
        entries = await _entries(mail_services)
        return entries if len(entries) == len(mails) else None

    entries = await eventually(all_in)
    by_message = {e.payload["message_id"]: e for e in entries}
    tickets = {e.ticket_id for e in entries}
    assert len(tickets) == len(senders) * len(REQUESTS)
    reply = next(e for e in entries if e.payload["subject"].startswith("Re: "))
    assert reply.ticket_id == by_message["<1.ana@example.com>"].ticket_id
    assert all(e.payload["routing"]["version"] == 0 for e in entries)

    async def acknowledged() -> int | None:
        async with mail_services.db.session() as session:
            count = (await session.execute(select(func.count()).select_from(OutboxMessage)
                                           .where(OutboxMessage.channel == "email"))).scalar_one()
        return count if count >= len(tickets) else None

    assert await eventually(acknowledged) == len(tickets)  # one per new ticket, none for the reply
    async with mail_services.db.session() as session:
        subjects = sorted((await session.execute(select(Ticket.subject))).scalars())
    assert subjects == sorted(REQUESTS * len(senders))
