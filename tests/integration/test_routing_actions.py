"""Routing actions that reach past the queue: tags on the ticket (and agents editing them), names
a rule refers to checked on save, and a team's ticket offered only to its agents."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from test_console_pages import form_post
from web_fixtures import WebSite

from alerts.wiring import build_sla
from config.services import Services
from core.auth import Actor
from core.clock import ManualClock
from core.customers import CustomerDraft, create_customer
from core.records import AuditLog, EntryKind, Ticket, TimelineEntry
from core.users import add_user
from routing import Contact, RuleEngine, RulesPolicy, parse_rules
from routing.assignment import Assignment, OfferMade, Presence
from routing.defaults import default_rules_data
from routing.records import WorkItem
from routing.settings import RoutingSettings

RESELLERS: dict[str, Any] = {
    "name": "Resellers",
    "groups": [{"mode": "all", "conditions": [{"field": "customer_tag", "op": "in", "value": ["Reseller"]}]}],
    "actions": {"tags": ["partner", " Priority  Account "]},
}


async def _mail(services: Services, customer_id: int | None, subject: str) -> int:
    async with services.db.session() as session:
        accepted = await services.desk.accept(session, Contact("email", customer_id, subject=subject), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
        return accepted.ticket.id


async def test_a_rule_tags_tickets_agents_edit_tags_and_the_queue_filters_by_them(site: WebSite) -> None:
    services = site.services
    ops = await site.login("ops")
    live = await ops.api("GET", "/api/v1/routing/rules")
    await ops.api("PUT", "/api/v1/routing/rules", json={"rules": [*live["rules"], RESELLERS]})
    async with services.db.transaction() as session:
        reseller = await create_customer(session, Actor.system(), CustomerDraft(name="Wu", tags=["reseller"]))
    tagged = await _mail(services, reseller.id, "Bulk order")
    plain = await _mail(services, None, "Where is my parcel")

    agent = await site.login("agent")
    ticket = await agent.api("GET", f"/api/v1/tickets/{tagged}")
    assert ticket["ticket"]["tags"] == ["partner", "priority account"]  # the customer_tag condition held
    assert (await agent.api("GET", f"/api/v1/tickets/{plain}"))["ticket"]["tags"] == []

    assert (await agent.api("POST", f"/api/v1/tickets/{plain}/tags", json={"tag": "Urgent"}))["tags"] == ["urgent"]
    assert (await agent.api("DELETE", f"/api/v1/tickets/{plain}/tags/URGENT"))["tags"] == []
    await agent.api("POST", f"/api/v1/tickets/{plain}/tags", json={"tag": "  "}, status=400)
    status, location, _ = await form_post(agent, f"/tickets/{plain}/tag", tag="  Lost Parcel ")
    assert (status, location) == (303, f"/tickets/{plain}")
    await form_post(agent, f"/tickets/{tagged}/untag", tag="partner")
    page = await (await agent.http.get(f"/tickets/{plain}")).text()
    assert 'data-tag="lost parcel"' in page and "Tags added" in page

    listed = await agent.api("GET", "/api/v1/tickets?tag=Lost%20Parcel&status=all")
    assert [t["id"] for t in listed["tickets"]] == [plain]
    listed = await agent.api("GET", "/api/v1/tickets?tag=partner&status=all")
    assert listed["tickets"] == []  # removed
    found = await agent.api("GET", "/api/v1/search?q=parcel&tag=lost+parcel")
    assert [r["id"] for r in found["results"]] == [plain]  # search filters by tag through the same conditions
    assert (await agent.api("GET", "/api/v1/search?q=parcel&tag=partner"))["results"] == []
    queue_page = await (await agent.http.get("/queue?tag=priority+account")).text()
    assert "Bulk order" in queue_page and "Where is my parcel" not in queue_page
    assert 'href="/queue?status=open&amp;tag=priority+account">priority account</a>' in queue_page  # rows show their tags

    async with services.db.session() as session:
        entries = list(await session.scalars(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.TAGS)
                                             .order_by(TimelineEntry.id)))
        audit = list(await session.scalars(select(AuditLog).where(AuditLog.action == "ticket.tags").order_by(AuditLog.id)))
    assert [(e.ticket_id, e.payload) for e in entries] == [
        (plain, {"added": ["urgent"]}), (plain, {"removed": ["urgent"]}),
        (plain, {"added": ["lost parcel"]}), (tagged, {"removed": ["partner"]})]
    assert [(a.entity_id, a.after) for a in audit] == [(str(plain), {"tags": ["urgent"]}), (str(plain), {"tags": []}),
                                                      (str(plain), {"tags": ["lost parcel"]}),
                                                      (str(tagged), {"tags": ["priority account"]})]
    assert all(a.actor_id == site.users["agent"].id for a in audit)


async def test_rules_naming_an_unknown_policy_template_or_team_are_refused_with_the_field(site: WebSite) -> None:
    ops = await site.login("ops")
    live = await ops.api("GET", "/api/v1/routing/rules")
    bad = {"name": "Typos", "groups": [{"conditions": [{"field": "channel", "op": "in", "value": ["email"]}]}],
           "actions": {"sla_policy": "no-such-policy", "acknowledgement": "No such template", "team": "nobody"}}
    refused = await ops.api("PUT", "/api/v1/routing/rules", json={"rules": [*live["rules"], bad]}, status=400)
    n = len(live["rules"])
    assert {e["field"]: e["message"] for e in refused["details"]["errors"]} == {
        f"rules.{n}.actions.sla_policy": "no SLA policy named 'no-such-policy'",
        f"rules.{n}.actions.acknowledgement": "no reply template named 'No such template'",
        f"rules.{n}.actions.team": "no team named 'nobody'",
    }
    assert (await ops.api("GET", "/api/v1/routing/rules"))["version"] == 0  # nothing half-saved
    fine = {**bad, "actions": {"acknowledgement": "none", "queue": "email"}}
    assert (await ops.api("PUT", "/api/v1/routing/rules", json={"rules": [*live["rules"], fine]}))["version"] == 1


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_a_ticket_given_to_a_team_is_offered_only_to_its_agents(services: Services, clock: ManualClock) -> None:
    settings = RoutingSettings(queue_strategies={"email": "least_busy"}, agent_capacity=3, prefer_last_agent=False,
                               teams={"billing": ["bea", "ben"]})
    billing = {"name": "Billing team", "groups": [{"conditions": [{"field": "subject_keywords", "op": "contains_any",
                                                                  "value": ["invoice"]}]}],
               "actions": {"team": "billing"}}
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(parse_rules([*default_rules_data(settings), billing]), 1, settings))
    async with services.db.transaction() as session:
        ids = {login: (await add_user(session, login, "pw-123456789", login.title(), ["agent"])).id
               for login in ("alice", "bea", "ben")}
    presence = Presence()
    assignment = Assignment(services.db, services.desk, clock, settings, presence)
    seen: list[OfferMade] = []

    async def keep(event: OfferMade) -> None:
        seen.append(event)

    services.bus.subscribe(OfferMade, keep)
    presence.set(ids["alice"], "ready")  # the least busy, but not in the team
    presence.set(ids["bea"], "paused")
    invoice = await _mail(services, None, "Invoice 77 is wrong")
    other = await _mail(services, None, "Password reset")
    assert await assignment.run_once() == 1
    assert [(o.ticket_id, o.user_ids) for o in seen] == [(other, (ids["alice"],))]  # the team's ticket waits for the team

    presence.set(ids["ben"], "ready")
    assert await assignment.run_once() == 1
    assert (seen[-1].ticket_id, seen[-1].user_ids) == (invoice, (ids["ben"],))
    async with services.db.session() as session:
        work = (await session.scalars(select(WorkItem).where(WorkItem.ticket_id == invoice))).one()
        entry = (await session.scalars(select(TimelineEntry).where(TimelineEntry.ticket_id == invoice))).one()
    assert work.team == "billing" and entry.payload["routing"]["rule"] == "Billing team"


async def test_the_rule_s_sla_policy_holds_while_it_exists_and_is_enabled(services: Services) -> None:
    sla = build_sla(services)
    async with services.db.transaction() as session:
        ops = Actor.of(await add_user(session, "otto", "password1", "Otto Ops", ["ops"]))
        await sla.store.seed(session)
        fast = {"name": "fast", "position": 5, "match": {"channel": ["voice"]}, "first_response_minutes": 15}
        await sla.store.save_policy(session, ops, fast)
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    rule = {"name": "Fast lane", "groups": [{"conditions": [{"field": "subject_keywords", "op": "contains_any", "value": ["outage"]}]}],
            "actions": {"sla_policy": "fast"}}
    policy.use(RuleEngine(parse_rules([*default_rules_data(policy.settings), rule]), 1, policy.settings))
    outage, other = await _mail(services, None, "Outage in Madrid"), await _mail(services, None, "A question")
    async with services.db.session() as session:
        chosen = {t.id: t.sla_policy for t in await session.scalars(select(Ticket).where(Ticket.id.in_([outage, other])))}
    assert chosen == {outage: "fast", other: "email"}

    async with services.db.transaction() as session:
        await sla.store.save_policy(session, ops, {**fast, "enabled": False})
    sla.store.invalidate()
    await sla.service.recompute_open_tickets()
    async with services.db.session() as session:
        assert (await session.get(Ticket, outage)).sla_policy == "email"  # type: ignore[union-attr]  # the matching one again
