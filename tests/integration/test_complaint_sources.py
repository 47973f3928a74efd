"""Complaints from every channel land in one model: a routing rule, the suggested reply template's
category, the agent's wrap-up of a call and a bad rating each set the ticket's complaint
category, on its timeline, naming where it came from; a solved ticket's customer is mailed
one-click rating links in their language, once, and never when the loop guards say no."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.rating_links import RatingLinks
from config.services import Services
from core.auth import Actor
from core.clock import ManualClock
from core.customers import CustomerDraft, create_customer
from core.errors import Conflict, Forbidden, InvalidInput
from core.records import EntryKind, OutboxMessage, Role, Ticket, TimelineEntry
from core.signing_key import SigningKey
from core.users import add_user
from cti.records import CallRecord
from routing import Contact, parse_rules
from routing.defaults import default_rules_data
from routing.ratings import rate_ticket
from routing.references import unknown_references
from routing.tags import tags_of
from routing.wrap_up import WrapUp, wrap_up_call

RULE: dict[str, Any] = {
    "name": "Refund complaints",
    "groups": [{"mode": "all", "conditions": [{"field": "keywords", "op": "contains_any", "value": ["refund"]}]}],
    "actions": {"complaint_category": "Billing"},
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def complaint_entries(services: Services, ticket_id: int) -> list[dict[str, Any]]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry.payload).where(TimelineEntry.ticket_id == ticket_id,
                                                   TimelineEntry.kind == EntryKind.COMPLAINT.value)
        return list(await session.scalars(stmt))


async def accept(services: Services, contact: Contact) -> Ticket:
    async with services.db.session() as session:
        accepted = await services.desk.accept(session, contact, EntryKind.EMAIL_IN, {"text": contact.body})
        await services.desk.commit_and_publish(session)
        return accepted.ticket


async def test_a_rule_and_a_suggested_template_make_complaints(services: Services) -> None:
    policy = services.desk.policy
    policy.use(policy.draft([*default_rules_data(services.settings.routing), RULE]))  # type: ignore[attr-defined]
    assert parse_rules([RULE]).rules[0].actions.complaint_category == "billing"
    with pytest.raises(InvalidInput):
        parse_rules([{**RULE, "actions": {"complaint_category": "no spaces please"}}])
    async with services.db.session() as session:  # saving refuses a category nobody keeps, naming the field
        unknown = await unknown_references(session, parse_rules([{**RULE, "actions": {"complaint_category": "nope"}}]),
                                           services.settings.routing)
        assert [e["field"] for e in unknown] == ["rules.0.actions.complaint_category"]
        assert await unknown_references(session, parse_rules([RULE]), services.settings.routing) == []

    by_rule = await accept(services, Contact("email", None, subject="I want a refund", body="now"))
    by_template = await accept(services, Contact("email", None, subject="Parcel", body="late again",
                                                 attributes={"template": "Late parcel", "template_category": "Delivery"}))
    plain = await accept(services, Contact("email", None, subject="Opening hours?", body="",
                                           attributes={"template": "Hours", "template_category": "faq"}))
    async with services.db.session() as session:
        tickets = {t.id: t for t in await session.scalars(select(Ticket))}
    assert (tickets[by_rule.id].complaint_category, tickets[by_rule.id].category) == ("billing", "complaint")
    assert tickets[by_rule.id].complained_at is not None
    assert (tickets[by_template.id].complaint_category, tickets[by_template.id].category) == ("delivery", "complaint")
    assert tickets[plain.id].complaint_category is None and tickets[plain.id].complained_at is None
    assert [(e["category"], e["source"], e["rule"]) for e in await complaint_entries(services, by_rule.id)] == [
        ("billing", "rule", "Refund complaints")]
    assert [(e["category"], e["source"], e["template"]) for e in await complaint_entries(services, by_template.id)] == [
        ("delivery", "template", "Late parcel")]


async def test_the_wrap_up_of_a_call_and_a_bad_rating_make_complaints(services: Services, clock: ManualClock) -> None:
    desk = services.desk
    async with services.db.transaction() as session:
        alice = await add_user(session, "alice", "correct horse battery", "Alice", ["agent"])
        bob = await add_user(session, "bob", "correct horse battery", "Bob", ["agent"])
    call_ticket = await accept(services, Contact("voice", None, subject="Call from +15550100"))
    async with services.db.transaction() as session:
        session.add(CallRecord(pbx="pbx1", linkedid="1700000000.1", direction="inbound", number="+15550100",
                               agent_id=alice.id, started_at=clock.now(), answered_at=clock.now(),
                               ended_at=clock.now() + timedelta(minutes=3), outcome="answered", ticket_id=call_ticket.id))
        session.add(CallRecord(pbx="pbx1", linkedid="1700000000.2", direction="inbound", number="+15550101",
                               agent_id=alice.id, started_at=clock.now(), answered_at=clock.now(), ticket_id=call_ticket.id))
    alice_actor = Actor(alice.id, "alice", frozenset({Role.AGENT}))
    wrap = WrapUp("follow-up", "product-quality", "Screen cracked on arrival", "Router X2")
    async with services.db.transaction() as session:
        with pytest.raises(Forbidden):
            await wrap_up_call(desk, session, Actor(bob.id, "bob", frozenset({Role.AGENT})), "1700000000.1", wrap)
        with pytest.raises(Conflict):  # still going on
            await wrap_up_call(desk, session, alice_actor, "1700000000.2", wrap)
        for bad, field in ((WrapUp("shrug"), "outcome"), (WrapUp("resolved", "nonsense"), "category"),
                           (WrapUp("resolved", note="x" * 2001), "note")):
            with pytest.raises(InvalidInput) as refused:
                await wrap_up_call(desk, session, alice_actor, "1700000000.1", bad)
            assert refused.value.details["field"] == field
    async with services.db.transaction() as session:
        await wrap_up_call(desk, session, alice_actor, "1700000000.1", wrap)
    async with services.db.transaction() as session:
        with pytest.raises(Conflict):  # once per call
            await wrap_up_call(desk, session, alice_actor, "1700000000.1", wrap)
    async with services.db.session() as session:
        ticket = await session.get(Ticket, call_ticket.id)
        wrap_ups = list(await session.scalars(select(TimelineEntry).where(
            TimelineEntry.ticket_id == call_ticket.id, TimelineEntry.kind == EntryKind.WRAP_UP.value)))
        tags = await tags_of(session, call_ticket.id)
    assert ticket is not None and (ticket.complaint_category, ticket.category) == ("product-quality", "complaint")
    assert [(e.payload["outcome"], e.payload["note"], e.author_id) for e in wrap_ups] == [
        ("follow-up", "Screen cracked on arrival", alice.id)]
    assert "product:router x2" in tags
    assert [e["source"] for e in await complaint_entries(services, call_ticket.id)] == ["wrap-up"]

    # a bad rating: the same model, the "bad rating" category, replacing what the call said
    async with services.db.transaction() as session:
        await desk.set_status(session, Actor.system(), call_ticket.id, "solved")
        await rate_ticket(desk, session, call_ticket.id, "bad", "")
    async with services.db.session() as session:
        ticket = await session.get(Ticket, call_ticket.id)
    assert ticket is not None and ticket.complaint_category == "bad-rating"
    assert [(e["source"], e.get("from")) for e in await complaint_entries(services, call_ticket.id)] == [
        ("wrap-up", None), ("rating", "product-quality")]


async def test_a_solved_ticket_mails_the_rating_links_once_in_the_customers_language(
    services: Services, clock: ManualClock
) -> None:
    links = RatingLinks(SigningKey("a secret"))
    channel = EmailChannel(services)  # type: ignore[arg-type]
    channel.ask_for_ratings(links, "https://help.example.com/")
    desk = services.desk
    try:
        async with services.db.transaction() as session:
            li = await create_customer(session, Actor.system(), CustomerDraft(name="李雷", emails=["li@example.cn"],
                                                                              language="zh-CN"))
            nobody = await create_customer(session, Actor.system(), CustomerDraft(name="No Mail", phones=["+15550199"]))
        mail = await accept(services, Contact("email", li.id, subject="退款", body="请退款", address="li@example.cn"))
        robot = await accept(services, Contact("email", li.id, subject="Out of office", body="away"))
        phone = await accept(services, Contact("voice", nobody.id, subject="Call"))
        async with services.db.transaction() as session:
            await desk.append(session, robot.id, EntryKind.EMAIL_IN, {"text": "away", "automatic": ["Auto-Submitted"]})
        for ticket_id in (mail.id, robot.id, phone.id):
            async with services.db.transaction() as session:
                await desk.set_status(session, Actor.system(), ticket_id, "solved")
            if ticket_id == mail.id:  # the outbox is woken once the solve commits, not at its next poll
                assert channel.outbox._wakeup.is_set()
        async with services.db.transaction() as session:  # reopened and solved again: still one mail
            await desk.set_status(session, Actor.system(), mail.id, "open")
            await desk.set_status(session, Actor.system(), mail.id, "solved")
        async with services.db.session() as session:
            rows = list(await session.scalars(select(OutboxMessage).where(
                OutboxMessage.payload["kind"].as_string() == "rating-request")))
    finally:
        await channel.stop()
    assert [(r.ticket_id, r.recipient) for r in rows] == [(mail.id, "li@example.cn")]
    row = rows[0]
    assert row.headers["Auto-Submitted"] == "auto-generated" and f"#{mail.number}" in row.subject
    assert "李雷，您好" in row.body and "您对我们的服务满意吗" in row.subject  # the customer's language
    found = {rating: link for link, rating in
             re.findall(r"https://help\.example\.com(/help/rate/\d+/(good|bad)\?expires=\d+&sig=\w+)", row.body)}
    assert set(found) == {"good", "bad"}
    _path, query = found["good"].split("?")
    params = dict(p.split("=") for p in query.split("&"))
    links.check(mail.id, "good", params["expires"], params["sig"], clock.now())  # one we signed, not expired
