"""Customer tiers computed from the admin's rules: CRM attributes, contacts, complaints; the
reason on the record; recompute on change and on schedule; a person's override wins, is
audited and can be cleared; and a computed VIP is treated as one by routing and the SLA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from alerts import PolicyStore, SlaClock
from alerts.settings import SlaSettings
from config.services import Services
from core import tier_worker
from core.auth import Actor
from core.customer_import import import_customers
from core.customers import CustomerDraft, create_customer, update_customer
from core.errors import Forbidden, InvalidInput
from core.records import AuditLog, Category, Customer, EntryKind, Role, Ticket, TimelineEntry
from core.tier_worker import TierSettings, TierWorker
from core.tiering import preview, recompute_all, save_rules, sweep_batch
from routing import Contact

OPS = Actor(None, "ops", frozenset({Role.OPS}))
AGENT = Actor(None, "agent", frozenset({Role.AGENT}))
SUPERVISOR = Actor(None, "supervisor", frozenset({Role.SUPERVISOR, Role.AGENT}))

RULES: list[dict[str, Any]] = [
    {"name": "High value", "tier": "vip",
     "conditions": [{"field": "attribute", "attribute": "lifetime_value", "op": ">=", "value": "10000"}]},
    {"name": "Gold contract", "tier": "vip",
     "conditions": [{"field": "attribute", "attribute": "contract_level", "op": "in", "value": "gold, platinum"}]},
    {"name": "Unhappy regulars", "tier": "new",
     "conditions": [{"field": "complaints", "op": ">=", "value": 2}]},
    {"name": "Busy this month", "tier": "vip",
     "conditions": [{"field": "contacts", "days": 30, "op": ">=", "value": 3}]},
]


async def _customer(services: Services, **fields: Any) -> int:
    async with services.db.transaction() as session:
        return (await create_customer(session, AGENT, CustomerDraft(**fields))).id


async def _tier(services: Services, customer_id: int) -> tuple[str, str, str | None]:
    async with services.db.session() as session:
        c = await session.get_one(Customer, customer_id)
        return c.tier, c.tier_reason, c.tier_override


async def _mail(services: Services, customer_id: int, subject: str, category: str | None = None) -> int:
    async with services.db.session() as session:
        tier = (await session.get_one(Customer, customer_id)).tier
        accepted = await services.desk.accept(
            session, Contact("email", customer_id, customer_tier=tier, subject=subject, category=category),
            EntryKind.EMAIL_IN, {"subject": subject})
        await services.desk.commit_and_publish(session)
        return accepted.ticket.id


async def test_a_bad_rule_is_refused_naming_the_input_and_nothing_is_saved(services: Services) -> None:
    async with services.db.transaction() as session:
        await save_rules(session, OPS, RULES[:1])
    bad = [
        ([{"name": "", "tier": "vip"}], "rules[0].name"),
        ([{"name": "x", "tier": "gold"}], "rules[0].tier"),
        ([{"name": "x", "tier": "vip", "conditions": [{"field": "shoe_size", "op": ">", "value": 1}]}],
         "rules[0].conditions[0].field"),
        ([RULES[0], {"name": "y", "tier": "vip", "conditions": [{"field": "tickets", "op": ">", "value": "many"}]}],
         "rules[1].conditions[0].value"),
        ([{"name": "x", "tier": "vip", "conditions": [{"field": "attribute", "attribute": "", "op": "=", "value": "a"}]}],
         "rules[0].conditions[0].attribute"),
        ([{"name": "x", "tier": "vip", "conditions": [
            {"field": "attribute", "attribute": "plan", "op": ">", "value": "__import__('os')"}]}],
         "rules[0].conditions[0].value"),
        ([{"name": "x", "tier": "vip", "conditions": [{"field": "calls", "days": 0, "op": ">", "value": 1}]}],
         "rules[0].conditions[0].days"),
        ([{"name": "x", "tier": "vip"}, {"name": "X", "tier": "new"}], "rules[1].name"),
    ]
    for rules, field in bad:
        async with services.db.transaction() as session:
            with pytest.raises(InvalidInput) as refused:
                await save_rules(session, OPS, rules)
            assert refused.value.details["field"] == field, rules
    async with services.db.transaction() as session:
        with pytest.raises(Forbidden):
            await save_rules(session, AGENT, RULES)
        assert (await preview(session, OPS, RULES[:1], services.clock.now()))["rules"] == {"High value": 0}


async def test_rules_give_tier_and_reason_from_attributes_complaints_and_contacts(services: Services) -> None:
    rich = await _customer(services, name="Rich", emails=["rich@example.com"])
    gold = await _customer(services, name="Gold", emails=["gold@example.com"])
    cross = await _customer(services, name="Cross", emails=["cross@example.com"])
    busy = await _customer(services, name="Busy", emails=["busy@example.com"])
    quiet = await _customer(services, name="Quiet", emails=["quiet@example.com"])
    async with services.db.transaction() as session:
        await save_rules(session, OPS, RULES)
        # Attributes set through the service are recomputed at once.
        await update_customer(session, AGENT, rich, {"attributes": {"lifetime_value": 12000}})
        await update_customer(session, AGENT, gold, {"attributes": {"contract_level": "Gold"}})
    await _mail(services, cross, "You broke it again", category=Category.COMPLAINT.value)
    wrapped = await _mail(services, cross, "About my call")
    async with services.db.transaction() as session:  # a complaint category from a call's wrap-up
        await session.execute(update(Ticket).where(Ticket.id == wrapped).values(complaint_category="delivery"))
    for n in range(3):
        await _mail(services, busy, f"Question {n}")
    old = await _mail(services, quiet, "Long ago")
    for n in range(3):
        await _mail(services, quiet, f"Old question {n}")
    async with services.db.transaction() as session:  # the quiet customer's mails are two months old
        tickets = select(Ticket.id).where(Ticket.customer_id == quiet)
        await session.execute(update(TimelineEntry).where(TimelineEntry.ticket_id.in_(tickets))
                              .values(created_at=services.clock.now() - timedelta(days=60)))
        assert old
        counts = await preview(session, OPS, RULES, services.clock.now())
        assert counts["rules"] == {"High value": 1, "Gold contract": 1, "Unhappy regulars": 1, "Busy this month": 1}
        assert counts["tiers"]["vip"] == 3 and counts["unmatched"] == 1
        await recompute_all(session, OPS, services.clock.now())
    assert await _tier(services, rich) == ("vip", "rule 'High value': lifetime_value >= 10000", None)
    assert await _tier(services, gold) == ("vip", "rule 'Gold contract': contract_level in gold, platinum", None)
    assert await _tier(services, cross) == ("new", "rule 'Unhappy regulars': complaints >= 2", None)
    assert await _tier(services, busy) == ("vip", "rule 'Busy this month': contacts in 30 days >= 3", None)
    assert await _tier(services, quiet) == ("standard", "no tier rule matched", None)
    async with services.db.transaction() as session:  # the CRM lowers the value: back to standard
        await update_customer(session, AGENT, rich, {"attributes": {"lifetime_value": 900, "region": "north"}})
    assert (await _tier(services, rich))[0] == "standard"


async def test_an_override_wins_is_audited_and_can_be_cleared(services: Services) -> None:
    ana = await _customer(services, name="Ana", emails=["ana@example.com"])
    async with services.db.transaction() as session:
        await save_rules(session, OPS, RULES)
        await update_customer(session, AGENT, ana, {"tier_override": "new", "tier_reason": "asked us to"})
        await update_customer(session, AGENT, ana, {"attributes": {"lifetime_value": 50000}})
        await recompute_all(session, OPS, services.clock.now())
    assert await _tier(services, ana) == ("new", "asked us to", "new")  # the rules do not touch it
    async with services.db.transaction() as session:
        await update_customer(session, AGENT, ana, {"tier_override": None})
    assert await _tier(services, ana) == ("vip", "rule 'High value': lifetime_value >= 10000", None)
    async with services.db.session() as session:
        actions = [(a.action, (a.after or {}).get("tier_override")) for a in (await session.execute(
            select(AuditLog).where(AuditLog.entity == "customer", AuditLog.entity_id == str(ana))
            .order_by(AuditLog.id))).scalars()]
    assert ("customer.tier_override", "new") in actions
    assert ("customer.tier_override_cleared", None) in actions
    async with services.db.transaction() as session:
        with pytest.raises(InvalidInput) as bad:
            await update_customer(session, AGENT, ana, {"tier_override": "platinum"})
        assert bad.value.details["field"] == "tier_override"


async def _busy_customer_and_worker(services: Services) -> tuple[int, TierWorker]:
    """A customer who wrote three times under the "three contacts make a VIP" rule, and a tier
    worker that heard of it but has not run yet."""
    busy = await _customer(services, name="Busy", emails=["busy@example.com"])
    async with services.db.transaction() as session:
        await save_rules(session, OPS, [RULES[3]])
    worker = TierWorker(services.db, services.bus, services.clock, services.health,
                        TierSettings(recompute_every_s=3600, check_every_s=60, batch=2, change_delay_s=0))
    worker.subscribe()
    for n in range(3):
        await _mail(services, busy, f"Question {n}")
    return busy, worker


async def test_changes_and_the_schedule_recompute(services: Services) -> None:
    others = [await _customer(services, name=f"C{n}") for n in range(3)]  # before any rule: never computed
    busy, worker = await _busy_customer_and_worker(services)
    assert (await _tier(services, busy))[0] == "standard"  # not yet: the worker has not run
    assert await worker.apply_changes() == 1
    assert (await _tier(services, busy))[0] == "vip"
    async def stamps() -> list[object]:
        async with services.db.session() as session:
            return [(await session.get_one(Customer, i)).updated_at for i in others]

    assert await worker.sweep() == len(others)  # those never looked at, two by two
    before = await stamps()
    assert await worker.sweep() == 0  # nothing due again within the hour
    async with services.db.transaction() as session:
        later = services.clock.now() + timedelta(hours=2)
        assert await sweep_batch(session, later, timedelta(hours=1), 100) >= 4
    assert await stamps() == before  # looked at again, tier unchanged: not an update of the customer


async def test_a_recompute_that_fails_keeps_its_customers_for_the_next_try(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy, worker = await _busy_customer_and_worker(services)

    async def database_away(*_args: object) -> int:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(tier_worker, "recompute_for_tickets", database_away)
    with pytest.raises(ConnectionError):
        await worker.apply_changes()
    monkeypatch.undo()
    assert await worker.apply_changes() == 1  # the supervisor's next try: the customer was not forgotten
    assert (await _tier(services, busy))[0] == "vip"


async def test_a_computed_vip_gets_the_shorter_sla_and_the_priority_bump(services: Services) -> None:
    sla = SlaSettings.model_validate({"policies": [
        {"name": "vip", "position": 1, "match": {"tier": ["vip"]}, "first_response_minutes": 30},
        {"name": "everyone", "position": 2, "first_response_minutes": 480},
    ]})
    store = PolicyStore(sla, "UTC", services.clock, ttl=0)
    async with services.db.transaction() as session:
        await store.seed(session)
        await save_rules(session, OPS, RULES[:1])
    plain = await _customer(services, name="Plain", emails=["plain@example.com"])
    rich = await _customer(services, name="Rich", emails=["rich@example.com"])
    async with services.db.transaction() as session:
        await update_customer(session, AGENT, rich, {"attributes": {"lifetime_value": 20000}})
    sla_clock = SlaClock(store, services.clock)
    found = {}
    for who in (plain, rich):
        ticket_id = await _mail(services, who, "Where is my order?")
        async with services.db.session() as session:
            ticket = await session.get_one(Ticket, ticket_id)
            policy = await sla_clock.policy_for(session, ticket)
            found[who] = (ticket.priority, policy.name if policy else None)
    assert found[rich] == (2, "vip") and found[plain] == (1, "everyone")


async def test_the_csv_import_carries_crm_attributes_and_the_rules_see_them(services: Services) -> None:
    async with services.db.transaction() as session:
        await save_rules(session, OPS, RULES[:2])
    text = ("name,emails,attr.lifetime_value,attr.contract_level\n"
            "Ana,ana@example.es,\"15,000\",\n"
            "Bo,bo@example.com,200,platinum\n"
            "Cy,cy@example.com,10,\n")
    async with services.db.transaction() as session:
        plan = await import_customers(session, SUPERVISOR, text, now=services.clock.now())
    assert plan.counts["new"] == 3
    async with services.db.session() as session:
        found = {c.name: c for c in (await session.execute(select(Customer))).scalars()}
    assert found["Ana"].attributes == {"lifetime_value": 15000}
    assert found["Bo"].attributes == {"lifetime_value": 200, "contract_level": "platinum"}
    assert [(found[n].tier, found[n].tier_override) for n in ("Ana", "Bo", "Cy")] == [
        ("vip", None), ("vip", None), ("standard", None)]
    async with services.db.transaction() as session:
        bad = await import_customers(session, SUPERVISOR, "name,attr.bad name\nDee,1\n")
    assert [(e.code, e.field) for e in bad.errors] == [("invalid", "attr.bad name")]
