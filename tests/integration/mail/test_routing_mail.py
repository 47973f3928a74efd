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
from routing import RuleEngine, RulesPolicy, parse_rules
from routing.defaults import default_rules_data

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


async def test_a_rule_with_no_acknowledgement_leaves_its_new_tickets_unacknowledged(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    policy = mail_services.desk.policy
    assert isinstance(policy, RulesPolicy)
    newsletters = {"name": "Newsletters", "groups": [{"mode": "all", "conditions": [
        {"field": "subject_keywords", "op": "contains_any", "value": ["newsletter"]}]}],
        "actions": {"queue": "marketing", "acknowledgement": "none"}}
    rules = [*default_rules_data(policy.settings), newsletters]
    policy.use(RuleEngine(parse_rules(rules), 1, policy.settings))
    await append(support, compose(sender="ana@example.com", subject="Newsletter signup", message_id="<n1@example.com>"),
                 compose(sender="bo@example.com", subject="Question about billing", message_id="<q1@example.com>"))
    channel.start(outbox=False)

    async def both_in() -> list[TimelineEntry] | None:
        entries = await _entries(mail_services)
        return entries if len(entries) == 2 else None

    await eventually(both_in)

    async def acknowledged() -> list[str] | None:
        async with mail_services.db.session() as session:
            rows = list((await session.execute(select(OutboxMessage.recipient).where(OutboxMessage.channel == "email"))).scalars())
        return rows or None

    assert await eventually(acknowledged) == ["bo@example.com"]  # written in the same commit as both tickets
    async with mail_services.db.session() as session:
        queues = dict((await session.execute(select(Ticket.subject, Ticket.queue))).all())
    assert queues == {"Newsletter signup": "marketing", "Question about billing": "email"}
