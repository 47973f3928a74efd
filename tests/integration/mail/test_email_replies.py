"""Replies reach the customer's real mailbox threaded; acknowledgements obey the loop guard."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.replies import ReplyDraft
from channels.samples import compose
from channels.settings import MailboxSettings
from channels.sink import MailSink
from config.services import Services
from core.auth import Actor
from core.errors import Forbidden, InvalidInput
from core.events import TimelineAppended
from core.records import EntryKind, OutboxMessage, Ticket, TimelineEntry
from mail.helpers import append, eventually, fetch_all, make_agent


async def first_ticket(services: Services) -> Ticket:
    async def found() -> Ticket | None:
        async with services.db.session() as session:
            return (await session.execute(select(Ticket).order_by(Ticket.id))).scalars().first()

    return await eventually(found)


async def test_the_agents_reply_arrives_threaded_in_the_customers_mailbox(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings, customer_box: MailboxSettings
) -> None:
    original = compose(sender=customer_box.address, to=support.address, subject="Where is my parcel?",
                       message_id="<parcel-1@example.net>", references=["<older@example.net>"])
    await append(support, original)
    channel.start()
    ticket = await first_ticket(mail_services)
    agent = await make_agent(mail_services)
    sent = await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re: Where is my parcel?", body="It ships today."))

    async def two_mails() -> list[bytes] | None:  # the acknowledgement, then the reply
        mails = await fetch_all(customer_box)
        return mails if len(mails) >= 2 else None

    mails = [message_from_bytes(m, policy=policy.default) for m in await eventually(two_mails)]
    ack = next(m for m in mails if m["Auto-Submitted"])
    reply = next(m for m in mails if not m["Auto-Submitted"])
    assert ack["Auto-Submitted"] == "auto-replied"
    assert f"[#{ticket.number}]" in ack["Subject"]
    assert reply["Message-ID"] == sent.message_id and sent.message_id.endswith(f"@{support.address.split('@')[1]}>")
    assert reply["In-Reply-To"] == "<parcel-1@example.net>"
    assert reply["References"].split() == ["<older@example.net>", "<parcel-1@example.net>"]
    assert reply["Subject"] == f"[#{ticket.number}] Re: Where is my parcel?"
    assert reply.get_content().strip() == "It ships today."
    async with mail_services.db.session() as session:
        refreshed = await session.get(Ticket, ticket.id, populate_existing=True)
        assert refreshed is not None and refreshed.first_response_at is not None

    async def copy_in_sent() -> bool:
        return any(sent.message_id.encode() in m for m in await fetch_all(support, folder="Sent"))

    await eventually(copy_in_sent)


async def test_header_injection_and_roles_are_refused(channel: EmailChannel, mail_services: Services) -> None:
    await channel.ingest_raw("support", compose(sender="eve@example.com", subject="hi"))
    ticket = await first_ticket(mail_services)
    agent = await make_agent(mail_services)
    with pytest.raises(InvalidInput):
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Hi\r\nBcc: all@example.com", body="x"))
    ops = await make_agent(mail_services, "olga", ("ops",))
    with pytest.raises(Forbidden):
        await channel.replies.send(ops, ticket.id, ReplyDraft(subject="Hi", body="x"))


async def test_a_refused_reply_shows_on_the_ticket_and_a_busy_server_is_retried(
    channel: EmailChannel, mail_services: Services, sink: MailSink
) -> None:
    await channel.ingest_raw("support", compose(sender="gone@example.com", subject="hello"))
    await channel.ingest_raw("support", compose(sender="busy@example.com", subject="hello"))
    sink.answers["gone@example.com"] = "550 5.1.1 no such user"
    sink.answers["busy@example.com"] = "451 4.3.0 try again later"
    published: list[TimelineAppended] = []

    async def on_entry(event: TimelineAppended) -> None:
        published.append(event)

    mail_services.bus.subscribe(TimelineAppended, on_entry)
    await channel.outbox.run_once()  # both acknowledgements
    async with mail_services.db.session() as session:
        rows = {r.recipient: r for r in (await session.execute(select(OutboxMessage))).scalars()}
        assert rows["gone@example.com"].status == "failed" and "550" in (rows["gone@example.com"].last_error or "")
        assert rows["busy@example.com"].status == "pending" and "451" in (rows["busy@example.com"].last_error or "")
        alerts = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.ALERT))).scalars().all()
        assert [a.payload["recipient"] for a in alerts] == ["gone@example.com"]
    # the open ticket page hears of it at once
    assert [(e.ticket_id, e.entry_id) for e in published] == [(alerts[0].ticket_id, alerts[0].id)]


async def test_automatic_mail_is_recorded_but_never_acknowledged(channel: EmailChannel, mail_services: Services, support: MailboxSettings) -> None:
    loops = [
        compose(sender="robot@example.com", subject="Out of office", extra_headers={"Auto-Submitted": "auto-replied"}),
        compose(sender="news@example.com", subject="Newsletter", extra_headers={"Precedence": "bulk"}),
        compose(sender="ex@example.com", subject="OOF", extra_headers={"X-Auto-Response-Suppress": "All"}),
        compose(sender="MAILER-DAEMON@example.com", subject="Undelivered Mail"),
        compose(sender="other@example.com", subject="Our own echo", extra_headers={"X-Loop": support.address}),
    ]
    for raw in loops:
        result = await channel.ingest_raw("support", raw)
        assert result.outcome == "imported" and not result.acknowledged
    async with mail_services.db.session() as session:
        acks = (await session.execute(select(OutboxMessage))).scalars().all()
        entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().all()
    assert acks == []
    assert len(entries) == 5 and all(e.payload["automatic"] for e in entries)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    from core.clock import ManualClock

    return ManualClock()


async def test_at_most_three_acknowledgements_per_sender_a_day(channel: EmailChannel, mail_services: Services) -> None:
    system = Actor.system()
    for n in range(5):
        result = await channel.ingest_raw("support", compose(sender="chatty@example.com", subject=f"question {n}"))
        assert result.ticket_id is not None
        async with mail_services.db.session() as session:  # solved, so the next mail opens a new ticket
            await mail_services.desk.set_status(session, system, result.ticket_id, "solved")
            await session.commit()
    async with mail_services.db.session() as session:
        acks = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "chatty@example.com"))).scalars().all()
    assert len(acks) == 3
    mail_services.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]
    result = await channel.ingest_raw("support", compose(sender="chatty@example.com", subject="next day"))
    assert result.acknowledged
