"""The built-in routing rules on real contacts: what a fresh install does with mails, calls and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, Priority, Role, Ticket, TimelineEntry
from core.users import add_user
from cti.events import CallAbandoned, CallAnswered, CallEnded, CallRinging
from cti.recording import CallRecorder
from routing import Contact, RuleEngine, RulesPolicy, history, parse_rules
from routing.records import RoutedContact

VIP_PHONE = "+8613800138000"


@pytest.fixture
async def world(services: Services) -> dict[str, int]:
    async with services.db.transaction() as session:
        alice = await add_user(session, "alice", "pw-123456789", "Alice", ["agent"], extension="1001")
        vip = await create_customer(session, Actor.system(), CustomerDraft(name="Zhang Wei", phones=[VIP_PHONE], tier="vip",
                                                                            emails=["zhang@example.com"]))
        return {"alice": alice.id, "vip": vip.id}


class Calls:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.recorder = CallRecorder(services.db, services.desk, services.bus)
        self.n = 0

    async def call(self, number: str, answered_by: int | None) -> str:
        self.n += 1
        linkedid = f"1700000000.{self.n}"
        common = {"pbx": "sim", "linkedid": linkedid, "number": number, "queue": "support"}
        events: list = [CallRinging(direction="inbound", caller_name="", interface="PJSIP/1001", user_ids=(1,), **common)]
        if answered_by is not None:
            events.append(CallAnswered(direction="inbound", interface="PJSIP/1001", agent_user_id=answered_by, wait_s=2.0, **common))
            events.append(CallEnded(direction="inbound", outcome="answered", agent_user_id=answered_by, talk_s=30.0, wait_s=2.0, **common))
        else:
            events.append(CallAbandoned(wait_s=20.0, timeout=False, **common))
            events.append(CallEnded(direction="inbound", outcome="abandoned", agent_user_id=None, talk_s=0.0, wait_s=20.0, **common))
        for event in events:  # one transaction per event, as a busy recorder might batch them differently
            await self.recorder.handle_batch([event])
        return linkedid


async def _tickets(services: Services) -> list[Ticket]:
    async with services.db.session() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars().unique())


async def _entries(services: Services, ticket_id: int) -> list[TimelineEntry]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id).order_by(TimelineEntry.id)
        return list((await session.execute(stmt)).scalars())


async def test_an_answered_call_opens_a_ticket_for_the_agent_who_answered_and_counts_as_first_response(
    services: Services, world: dict[str, int]
) -> None:
    await Calls(services).call(VIP_PHONE, answered_by=world["alice"])
    (ticket,) = await _tickets(services)
    assert ticket.assignee_id == world["alice"] and ticket.first_response_at is not None
    assert ticket.priority == Priority.HIGH and ticket.customer_id == world["vip"]
    call = next(e for e in await _entries(services, ticket.id) if e.kind == EntryKind.CALL.value)
    assert call.payload["outcome"] == "answered"  # completed at the end, the routing explanation kept
    assert call.payload["routing"]["version"] == 0
    assert "rule 'VIP customers get a higher priority' v0: tier = vip" in call.payload["routing"]["why"]


async def test_a_call_joins_the_customers_ticket_only_if_it_was_updated_in_the_last_24_hours(
    services: Services, world: dict[str, int]
) -> None:
    async with services.db.session() as session:
        mail = await services.desk.accept(session, Contact("email", world["vip"], customer_tier="vip", subject="Invoice"),
                                          EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    calls = Calls(services)
    await calls.call(VIP_PHONE, answered_by=world["alice"])
    assert [t.id for t in await _tickets(services)] == [mail.ticket.id]
    async with services.db.transaction() as session:
        stale = await session.get(Ticket, mail.ticket.id)
        assert stale is not None
        stale.updated_at = services.clock.now() - timedelta(hours=25)
    await calls.call(VIP_PHONE, answered_by=world["alice"])
    tickets = await _tickets(services)
    assert len(tickets) == 2 and tickets[1].assignee_id == world["alice"]


async def test_an_abandoned_call_leaves_one_vip_callback_ticket_per_customer(services: Services, world: dict[str, int]) -> None:
    calls = Calls(services)
    await calls.call(VIP_PHONE, answered_by=None)
    (ticket,) = await _tickets(services)
    assert ticket.subject.startswith("Callback: ") and ticket.priority == Priority.HIGH
    assert ticket.customer_id == world["vip"]
    await calls.call(VIP_PHONE, answered_by=None)
    await calls.call(VIP_PHONE, answered_by=None)
    assert [t.id for t in await _tickets(services)] == [ticket.id]
    kinds = [e.payload.get("callback", False) for e in await _entries(services, ticket.id)]
    assert kinds.count(True) == 3


async def test_an_unknown_number_does_not_open_a_ticket_on_every_call(services: Services, world: dict[str, int]) -> None:
    calls = Calls(services)
    for _ in range(3):
        await calls.call("+14155550123", answered_by=world["alice"])
    await calls.call("+14155550199", answered_by=world["alice"])
    tickets = await _tickets(services)
    assert len(tickets) == 2 and all(t.customer_id is None for t in tickets)
    # A batch's read-ahead (replay, bench) finds each unknown number's ticket as the one-by-one read does.
    numbers = [("voice", "+14155550123"), ("voice", "+14155550199"), ("voice", "+14155550000")]
    now = services.clock.now()
    async with services.db.session() as session:
        one_by_one = [await history.address_tickets(session, c, a, now) for c, a in numbers]
        await history.prefetch_addresses(session, numbers, now)
        ahead = [await history.address_tickets(session, c, a, now) for c, a in numbers]
    assert ahead == one_by_one and [t.open_ticket is not None for t in ahead] == [True, True, False]


async def test_new_mails_from_one_customer_are_new_tickets_each_routed_with_its_reason(services: Services, world: dict[str, int]) -> None:
    subjects = ["Question about upgrading my plan", "Refund request for invoice 17", "Password reset does not arrive"]
    async with services.db.session() as session:
        accepted = [await services.desk.accept(session, Contact("email", world["vip"], customer_tier="vip", subject=s),
                                               EntryKind.EMAIL_IN, {"subject": s}) for s in subjects]
        await services.desk.commit_and_publish(session)
    assert all(a.created for a in accepted) and len({a.ticket.id for a in accepted}) == 3
    async with services.db.session() as session:
        snapshots = (await session.execute(select(func.count()).select_from(RoutedContact))).scalar_one()
    assert snapshots == 3


async def test_the_api_opens_a_new_ticket_with_what_was_sent_unless_asked_to_join(services: Services, world: dict[str, int]) -> None:
    agent = Actor(world["alice"], "alice", frozenset({Role.AGENT}))
    async with services.db.session() as session:
        first = await services.desk.open_ticket(session, agent, "Upgrade plan", customer_id=world["vip"])
        second = await services.desk.open_ticket(session, agent, "Broken invoice", customer_id=world["vip"],
                                                 priority="low", category="complaint")
        joined = await services.desk.open_ticket(session, agent, "More on the upgrade", customer_id=world["vip"], join=True)
        await services.desk.commit_and_publish(session)
    assert first.created and second.created and not joined.created
    assert (second.ticket.subject, second.ticket.priority, second.ticket.category) == ("Broken invoice", Priority.LOW, "complaint")
    assert joined.ticket.id in (first.ticket.id, second.ticket.id)


async def test_a_rule_failing_on_a_contact_sends_it_to_the_default_queue_with_the_error_on_its_timeline(services: Services) -> None:
    rules = parse_rules([{"name": "To sales", "groups": [{"conditions": [{"field": "recipient", "op": "in", "value": ["sales@x.example"]}]}],
                          "actions": {"queue": "sales"}}])
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(rules, 3, services.settings.routing))
    async with services.db.session() as session:
        good = await services.desk.accept(session, Contact("email", None, subject="a", attributes={"to": ["Sales@X.example"]}), EntryKind.EMAIL_IN, {})
        bad = await services.desk.accept(session, Contact("email", None, subject="b", attributes={"to": 42}), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    assert good.ticket.queue == "sales" and bad.ticket.queue == "email"
    (entry,) = await _entries(services, bad.ticket.id)
    assert entry.payload["routing"]["version"] == 3 and "TypeError" in entry.payload["routing"]["error"]
