"""Work pushed to agents: one capacity across calls and email, offers with a timeout, never two at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from web_fixtures import WebSite

from config.services import Services
from core.auth import Actor
from core.clock import ManualClock
from core.customers import CustomerDraft, create_customer
from core.errors import Conflict, Forbidden
from core.events import DomainEvent
from core.records import OPEN_STATUSES, EntryKind, Role, Ticket
from core.users import add_user
from cti.agent_states import latest_agent_states
from cti.records import AgentStateLog
from routing import Contact, RuleEngine, RulesPolicy, parse_rules
from routing.assignment import LOCK_WITHOUT_READ, Assignment, OfferEnded, OfferMade, Presence
from routing.defaults import default_rules
from routing.presence_book import PresenceBook
from routing.records import Offer, WorkItem
from routing.reports import DateRange, agent_report
from routing.settings import RoutingSettings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _push(services: Services, capacity: int = 3, **strategies: str) -> RoutingSettings:
    settings = RoutingSettings(queue_strategies=strategies or {"email": "least_busy"}, agent_capacity=capacity,  # type: ignore[arg-type]
                               offer_timeout_s=30, prefer_last_agent=False)
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(default_rules(settings), 0, settings))
    return settings


async def _agents(services: Services, *logins: str, skills: dict[str, list[str]] | None = None) -> dict[str, Actor]:
    async with services.db.transaction() as session:
        return {login: Actor.of(await add_user(session, login, "pw-123456789", login.title(), ["agent"],
                                               **({"skills": (skills or {}).get(login, [])} if skills else {})))
                for login in logins}


async def _mails(services: Services, *subjects: str, tier: str = "standard") -> list[int]:
    async with services.db.transaction() as session:
        customer = await create_customer(session, Actor.system(), CustomerDraft(name=f"C {subjects[0]}", tier=tier))
    ids = []
    async with services.db.session() as session:
        for subject in subjects:
            accepted = await services.desk.accept(session, Contact("email", customer.id, customer_tier=tier, subject=subject),
                                                  EntryKind.EMAIL_IN, {})
            ids.append(accepted.ticket.id)
        await services.desk.commit_and_publish(session)
    return ids


def _events(services: Services) -> list[DomainEvent]:
    seen: list[DomainEvent] = []

    async def keep(event: DomainEvent) -> None:
        seen.append(event)

    services.bus.subscribe(DomainEvent, keep)
    return seen


async def test_an_agent_on_a_call_is_offered_no_email_and_an_accepted_offer_is_theirs(services: Services, clock: ManualClock) -> None:
    settings = _push(services)
    people = await _agents(services, "alice", "bob")
    presence = Presence()
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen = _events(services)
    presence.set(people["alice"].user_id or 0, "on-call")
    presence.set(people["bob"].user_id or 0, "ready")
    (ticket_id,) = await _mails(services, "Where is my order")
    assert await assignment.run_once() == 1
    offers = [e for e in seen if isinstance(e, OfferMade)]
    assert [(o.user_ids, o.ticket_id) for o in offers] == [((people["bob"].user_id,), ticket_id)]
    async with services.db.session() as session:
        with pytest.raises(Forbidden):
            await assignment.accept(session, people["alice"], offers[0].offer_id)
    async with services.db.session() as session:
        ticket = await assignment.accept(session, people["bob"], offers[0].offer_id)
        await services.desk.commit_and_publish(session)
    assert ticket.assignee_id == people["bob"].user_id
    assert [e.outcome for e in seen if isinstance(e, OfferEnded)] == ["accepted"]
    async with services.db.session() as session:
        with pytest.raises(Conflict):
            await assignment.accept(session, people["bob"], offers[0].offer_id)
    assert await assignment.run_once() == 0


async def test_a_missed_or_declined_offer_goes_to_the_next_agent_and_is_recorded(services: Services, clock: ManualClock) -> None:
    settings = _push(services)
    people = await _agents(services, "alice", "bob", "carol")
    presence = Presence()
    for actor in people.values():
        presence.set(actor.user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen = _events(services)
    await _mails(services, "Hello")
    await assignment.run_once()
    first = [e for e in seen if isinstance(e, OfferMade)][-1]
    clock.advance(timedelta(seconds=31))
    await assignment.run_once()
    second = [e for e in seen if isinstance(e, OfferMade)][-1]
    assert second.user_ids != first.user_ids
    async with services.db.session() as session:
        await assignment.decline(session, Actor(second.user_ids[0], "x", frozenset()), second.offer_id)
        await services.desk.commit_and_publish(session)
    await assignment.run_once()
    third = [e for e in seen if isinstance(e, OfferMade)][-1]
    assert len({first.user_ids, second.user_ids, third.user_ids}) == 3
    async with services.db.session() as session:
        outcomes = [o.outcome for o in (await session.execute(select(Offer).order_by(Offer.id))).scalars()]
    assert outcomes == ["missed", "declined", None]


async def test_higher_priority_and_vip_first_and_no_agent_over_capacity_nor_item_offered_twice(services: Services, clock: ManualClock) -> None:
    settings = _push(services, capacity=2)
    people = await _agents(services, "alice", "bob")
    presence = Presence()
    for actor in people.values():
        presence.set(actor.user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    await _mails(services, *[f"standard {n}" for n in range(6)])
    vip = await _mails(services, "vip one", tier="vip")
    assert await assignment.run_once() == 4
    assert await assignment.run_once() == 0
    async with services.db.session() as session:
        offered = list((await session.execute(select(WorkItem).where(WorkItem.state == "offered"))).scalars())
        per_agent = {a.user_id: sum(w.weight for w in offered if w.offered_to == a.user_id) for a in people.values()}
        open_offers = (await session.execute(select(Offer.work_id, func.count()).where(Offer.outcome.is_(None))
                                             .group_by(Offer.work_id))).all()
    assert vip[0] in {w.ticket_id for w in offered}  # the VIP went first
    assert all(used <= 2 for used in per_agent.values())
    assert all(count == 1 for _work, count in open_offers)


async def test_a_full_look_over_many_agents_offers_only_to_those_with_room(services: Services, clock: ManualClock) -> None:
    """More agents than a pass locks unread (``LOCK_WITHOUT_READ``): the load is read first and only agents with room are locked."""
    settings = _push(services, capacity=1)
    people = await _agents(services, *[f"agent{n:02}" for n in range(LOCK_WITHOUT_READ + 8)])
    presence = Presence()
    for actor in people.values():
        presence.set(actor.user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    await _mails(services, *[f"first {n}" for n in range(LOCK_WITHOUT_READ + 4)])
    assert await assignment.run_once() == LOCK_WITHOUT_READ + 4
    await _mails(services, *[f"then {n}" for n in range(10)])
    assert await assignment.run_once(full_look=True) == 4  # the four agents with room, no more
    assert await assignment.run_once(full_look=True) == 0
    async with services.db.session() as session:
        offered = list((await session.execute(select(WorkItem).where(WorkItem.state == "offered"))).scalars())
    assert sorted(w.offered_to or 0 for w in offered) == sorted(a.user_id or 0 for a in people.values())  # one each
    assert len(offered) == len(people)


async def test_skills_pick_the_agent_with_the_skill(services: Services, clock: ManualClock) -> None:
    settings = _push(services, email="skills")
    rule = {"name": "Billing", "groups": [{"conditions": [{"field": "keywords", "op": "contains_any", "value": ["invoice"]}]}],
            "actions": {"skill": "billing", "strategy": "skills"}}
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(parse_rules([*default_rules(settings).model_dump(exclude_none=True)["rules"], rule]), 1, settings))
    people = await _agents(services, "alice", "bob", "carol", skills={"alice": ["chinese"], "bob": ["billing:1"], "carol": ["billing:3"]})
    presence = Presence()
    for actor in people.values():
        presence.set(actor.user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen = _events(services)
    await _mails(services, "Invoice is wrong")
    await assignment.run_once()
    assert [e.user_ids for e in seen if isinstance(e, OfferMade)] == [(people["carol"].user_id,)]


async def test_an_agent_sets_ready_gets_an_offer_over_the_api_and_accepts_it(site: WebSite) -> None:
    services = site.services
    _push(services)
    agent = await site.login("agent")
    await agent.api("POST", "/api/v1/me/presence", json={"state": "busy"}, status=400)
    await agent.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    (ticket_id,) = await _mails(services, "Printer")
    offers: list = []
    for _ in range(100):  # the assigner runs in the background, woken by the new ticket
        offers = (await agent.api("GET", "/api/v1/offers"))["offers"]
        if offers:
            break
        await asyncio.sleep(0.05)
    assert [o["ticket_id"] for o in offers] == [ticket_id]
    accepted = await agent.api("POST", f"/api/v1/offers/{offers[0]['offer_id']}/accept")
    assert accepted["ticket"]["assignee_id"] == site.users["agent"].id
    supervisor = await site.login("supervisor")
    overview = await supervisor.api("GET", "/api/v1/routing/assignment")
    assert overview["queues"]["email"]["assigned"] == 1 and overview["offers"] == {"accepted": 1}
    async with services.db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status in OPEN_STATUSES


async def test_a_server_process_started_later_knows_who_chose_ready(site: WebSite) -> None:
    """A replacement instance (after a crash, a rolling restart) heard none of the choices made
    before it started: it reads them, and offers work to the agents who are ready."""
    agent = await site.login("agent")
    supervisor = await site.login("supervisor")
    await agent.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    await supervisor.api("POST", "/api/v1/me/presence", json={"state": "paused", "reason": "coaching"})
    services = site.services
    later = Presence()  # what a process started now begins with: nothing
    book = PresenceBook(services.db, services.bus, services.clock, later)
    assert await book.read() == 2
    assert later.ready() == [site.users["agent"].id]
    assert later.reasons[site.users["supervisor"].id] == "coaching"
    # After its bus missed events it reads what changed meanwhile.
    await agent.api("POST", "/api/v1/me/presence", json={"state": "offline"})
    assert await book.read() >= 1
    assert later.ready() == [] and later.states[site.users["agent"].id] == "offline"


async def test_a_server_process_started_later_offers_no_email_to_an_agent_still_on_a_call(site: WebSite) -> None:
    """The agent chose ready, then the PBX said their phone went off the hook: a process started
    after that takes the PBX's word (the newer), as the live events left the others."""
    agent = await site.login("agent")
    await agent.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    services, me = site.services, site.users["agent"].id
    async with services.db.transaction() as session:
        session.add(AgentStateLog(user_id=me, pbx="main", interface="PJSIP/1001", state="on-call",
                                  started_at=services.clock.now() + timedelta(seconds=1)))
    later = Presence()
    assert await PresenceBook(services.db, services.bus, services.clock, later, latest_agent_states).read() >= 1
    assert later.states[me] == "on-call" and me not in later.ready()
    # The PBX's last word is older than the agent's pause from the console: the pause stands.
    async with services.db.transaction() as session:
        session.add(AgentStateLog(user_id=me, pbx="main", interface="PJSIP/1001", state="ready",
                                  started_at=services.clock.now() - timedelta(seconds=10)))
    await agent.api("POST", "/api/v1/me/presence", json={"state": "paused", "reason": "break"})
    again = Presence()
    await PresenceBook(services.db, services.bus, services.clock, again, latest_agent_states).read()
    assert again.states[me] == "paused" and again.reasons[me] == "break"


async def test_the_last_agent_is_offered_first_and_others_after_the_wait(services: Services, clock: ManualClock) -> None:
    settings = RoutingSettings.model_validate({"queue_strategies": {"email": "last_agent"}, "last_agent_wait_s": 120,
                                               "offer_timeout_s": 600})
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(default_rules(settings), 0, settings))
    people = await _agents(services, "alice", "bob")
    async with services.db.transaction() as session:
        customer = await create_customer(session, Actor.system(), CustomerDraft(name="Returning", emails=["r@example.com"]))
    async with services.db.session() as session:
        old = await services.desk.accept(session, Contact("email", customer.id, subject="Old"), EntryKind.EMAIL_IN, {})
        await services.desk.assign(session, Actor.system(), old.ticket.id, people["bob"].user_id)
        await services.desk.set_status(session, Actor.system(), old.ticket.id, "solved")
        await services.desk.commit_and_publish(session)
    presence = Presence()
    presence.set(people["alice"].user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen = _events(services)
    async with services.db.session() as session:
        new = await services.desk.accept(session, Contact("email", customer.id, subject="New question"), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    assert new.created and new.ticket.assignee_id is None and new.decision.preferred_agent_id == people["bob"].user_id
    assert await assignment.run_once() == 0  # bob is not ready: the ticket waits for him a while
    presence.set(people["bob"].user_id or 0, "ready")
    assert await assignment.run_once() == 1
    assert [e.user_ids for e in seen if isinstance(e, OfferMade)] == [(people["bob"].user_id,)]
    presence.set(people["bob"].user_id or 0, "paused")
    async with services.db.session() as session:
        other = await services.desk.accept(session, Contact("email", customer.id, subject="Third"), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    assert await assignment.run_once() == 0
    clock.advance(timedelta(seconds=121))
    assert await assignment.run_once() == 1
    last = [e for e in seen if isinstance(e, OfferMade)][-1]
    assert (last.ticket_id, last.user_ids) == (other.ticket.id, (people["alice"].user_id,))


async def test_the_agent_report_counts_offers_accepts_declines_misses_and_time_to_accept(services: Services, clock: ManualClock) -> None:
    settings = _push(services)
    people = await _agents(services, "alice", "bob", "carol")
    presence = Presence()
    for actor in people.values():
        presence.set(actor.user_id or 0, "ready")
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen = _events(services)
    await _mails(services, "Hello")
    await assignment.run_once()
    clock.advance(timedelta(seconds=31))  # the first agent misses it
    await assignment.run_once()
    second = [e for e in seen if isinstance(e, OfferMade)][-1]
    async with services.db.session() as session:
        await assignment.decline(session, Actor(second.user_ids[0], "x", frozenset()), second.offer_id)
        await services.desk.commit_and_publish(session)
    await assignment.run_once()
    third = [e for e in seen if isinstance(e, OfferMade)][-1]
    clock.advance(timedelta(seconds=12))
    async with services.db.session() as session:
        await assignment.accept(session, Actor(third.user_ids[0], "x", frozenset({Role.AGENT})), third.offer_id)
        await services.desk.commit_and_publish(session)
    today = clock.now().astimezone(ZoneInfo("UTC")).date()
    async with services.db.session() as session:
        rows = {r.user_id: r for r in await agent_report(session, Actor.system(), DateRange.parse(None, None, today, ZoneInfo("UTC")))}
    by_outcome = {(r.offers, r.accepted, r.declined, r.missed, r.avg_accept_s) for r in rows.values()}
    assert by_outcome == {(1, 0, 0, 1, None), (1, 0, 1, 0, None), (1, 1, 0, 0, 12.0)}
    assert rows[third.user_ids[0]].avg_accept_s == 12.0
