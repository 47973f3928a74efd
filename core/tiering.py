"""Customer tiers from the admin's rules, kept current, with a person's override on top.

``recompute`` applies the rules to some customers (on change: a new contact, ticket,
complaint or CRM attribute; on a schedule: ``sweep``, the longest-unchecked first, in
batches whose rows PostgreSQL locks with SKIP LOCKED so several servers share the work).
A tier a person set (``tier_override``) wins and is left alone until it is cleared; setting
and clearing it are audited. With no rules defined nothing is computed: tiers stay as typed.

The tier is written to ``Customer.tier``, the one field routing rules, SLA policies, the
screen-pop and the queue already read, so a computed VIP is treated as one everywhere.
"""

from __future__ import annotations

import collections
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change, record_changes
from core.auth import Actor
from core.errors import InvalidInput
from core.records import Customer, Role, Ticket, Tier
from core.tier_facts import gather
from core.tier_records import TierRuleRecord
from core.tier_rules import REASON_CAP, TierRule, first_match, parse_rules

BATCH = 200


async def load_rules(session: AsyncSession) -> list[TierRule]:
    rows = (await session.execute(select(TierRuleRecord).order_by(TierRuleRecord.position, TierRuleRecord.id))).scalars()
    return parse_rules([{"name": r.name, "tier": r.tier, "conditions": r.conditions, "enabled": r.enabled} for r in rows])


async def save_rules(session: AsyncSession, actor: Actor, data: Any) -> list[TierRule]:
    """Replace the rules with ``data`` (checked first: a refusal writes nothing); audited."""
    actor.require(Role.OPS)
    rules = parse_rules(data)
    before = [r.as_dict() for r in await load_rules(session)]
    await session.execute(delete(TierRuleRecord))
    session.add_all(TierRuleRecord(position=i, name=r.name, tier=r.tier, enabled=r.enabled,
                                   conditions=[c.as_dict() for c in r.conditions]) for i, r in enumerate(rules))
    await session.flush()
    record_change(session, actor, "tier_rules.save", "tier_rules", "all", {"rules": before},
                  {"rules": [r.as_dict() for r in rules]})
    # Everyone is due under the new rules: the scheduled recompute takes them batch by batch.
    await session.execute(update(Customer).values(tier_computed_at=None, updated_at=Customer.updated_at)
                          .execution_options(synchronize_session=False))
    return rules


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    tier: str
    reason: str


async def evaluate(session: AsyncSession, customers: list[Customer], rules: list[TierRule],
                   now: datetime) -> dict[int, Outcome]:
    """What the rules give each customer (overrides not applied)."""
    facts = await gather(session, customers, rules, now)
    return {cid: Outcome(*first_match(rules, fact.value_of)) for cid, fact in facts.items()}


async def recompute(session: AsyncSession, customer_ids: list[int] | set[int], now: datetime,
                    rules: list[TierRule] | None = None) -> int:
    """Apply the rules to these customers (merged ones and overridden ones keep their tier);
    returns how many changed tier or reason. Changes are audited as the system's."""
    if rules is None:
        rules = await load_rules(session)
    if not rules or not customer_ids:
        return 0
    changed = 0
    ordered = sorted(set(customer_ids))
    for start in range(0, len(ordered), BATCH):
        customers = list((await session.execute(
            select(Customer).where(Customer.id.in_(ordered[start:start + BATCH]))
            .execution_options(populate_existing=True))).scalars())
        changed += await _apply(session, customers, rules, now)
    return changed


async def _apply(session: AsyncSession, customers: list[Customer], rules: list[TierRule], now: datetime) -> int:
    live = [c for c in customers if c.merged_into_id is None and c.tier_override is None]
    outcomes = await evaluate(session, live, rules, now)
    audit: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
    # When they were looked at goes around the ORM: a customer whose tier did not change is not
    # an updated customer (watchers of customer changes, such as webhooks, see only real changes).
    await session.execute(update(Customer).where(Customer.id.in_([c.id for c in customers]))
                          .values(tier_computed_at=now, updated_at=Customer.updated_at)
                          .execution_options(synchronize_session=False))
    for customer in customers:
        outcome = outcomes.get(customer.id)
        if outcome is None or (customer.tier, customer.tier_reason) == (outcome.tier, outcome.reason):
            continue
        audit.append((customer.id, {"tier": customer.tier, "tier_reason": customer.tier_reason},
                      {"tier": outcome.tier, "tier_reason": outcome.reason, "source": "rules"}))
        customer.tier, customer.tier_reason = outcome.tier, outcome.reason
    await session.flush()
    await record_changes(session, Actor.system(), "customer.tier_computed", "customer", audit)
    return len(audit)


async def recompute_for_tickets(session: AsyncSession, ticket_ids: set[int], now: datetime) -> int:
    """On change: the customers of these tickets (a new contact, ticket, tag or category)."""
    rules = await load_rules(session)
    if not rules or not ticket_ids:
        return 0
    ids = set((await session.execute(
        select(Ticket.customer_id).where(Ticket.id.in_(sorted(ticket_ids)), Ticket.customer_id.is_not(None))
    )).scalars())
    return await recompute(session, {i for i in ids if i is not None}, now, rules)


async def sweep_batch(session: AsyncSession, now: datetime, every: timedelta, size: int = BATCH) -> int:
    """One batch of the scheduled recompute: customers not looked at for ``every`` (never
    first), their rows locked with SKIP LOCKED on PostgreSQL so another server takes the next
    ones. Returns how many were looked at (0: nothing is due, or there are no rules)."""
    rules = await load_rules(session)
    if not rules:
        return 0
    due = or_(Customer.tier_computed_at.is_(None), Customer.tier_computed_at < now - every)
    customers = list((await session.execute(
        select(Customer).where(Customer.merged_into_id.is_(None), due)
        .order_by(Customer.tier_computed_at.asc().nulls_first(), Customer.id)
        .limit(size).with_for_update(skip_locked=True, of=Customer)
        .execution_options(populate_existing=True))).scalars())
    if customers:
        await _apply(session, customers, rules, now)
    return len(customers)


async def recompute_all(session: AsyncSession, actor: Actor, now: datetime) -> int:
    """"Recompute now" from the admin page: every customer, in batches; returns how many changed."""
    actor.require(Role.OPS)
    rules = await load_rules(session)
    ids = list((await session.execute(select(Customer.id).where(Customer.merged_into_id.is_(None)))).scalars())
    return await recompute(session, ids, now, rules)


async def preview(session: AsyncSession, actor: Actor, data: Any, now: datetime) -> dict[str, Any]:
    """How many customers each tier would have under the rules ``data`` (checked, not saved);
    customers with an override count under it, and are counted apart too."""
    actor.require(Role.OPS)
    rules = parse_rules(data)
    counts: collections.Counter[str] = collections.Counter()
    by_rule: collections.Counter[str] = collections.Counter()
    overridden = 0
    last_id = 0
    while True:
        customers = list((await session.execute(
            select(Customer).where(Customer.merged_into_id.is_(None), Customer.id > last_id)
            .order_by(Customer.id).limit(BATCH))).scalars())
        if not customers:
            break
        last_id = customers[-1].id
        free = [c for c in customers if c.tier_override is None]
        outcomes = await evaluate(session, free, rules, now) if rules else {}
        for customer in customers:
            if customer.tier_override is not None:
                overridden += 1
                counts[customer.tier_override] += 1
            elif rules:
                outcome = outcomes[customer.id]
                counts[outcome.tier] += 1
                by_rule[outcome.reason.split("'")[1] if outcome.reason.startswith("rule '") else ""] += 1
            else:
                counts[customer.tier] += 1
    return {"tiers": {t.value: counts.get(t.value, 0) for t in Tier}, "overridden": overridden,
            "rules": {r.name: by_rule.get(r.name, 0) for r in rules}, "unmatched": by_rule.get("", 0)}


def override_dict(customer: Customer) -> dict[str, Any]:
    return {"tier": customer.tier, "tier_override": customer.tier_override, "tier_reason": customer.tier_reason}


async def set_override(session: AsyncSession, actor: Actor, customer: Customer, tier: str, reason: str = "") -> None:
    """A person's tier: it wins over the rules until cleared. Audited."""
    actor.require(Role.AGENT, Role.OPS)
    if tier not in {t.value for t in Tier}:
        raise InvalidInput("unknown tier", {"field": "tier_override", "tier": tier})
    reason = (reason or "").strip()
    if len(reason) > REASON_CAP:
        raise InvalidInput("the value is too long", {"field": "tier_reason"})
    before = override_dict(customer)
    customer.tier_override = tier
    customer.tier = tier
    customer.tier_reason = reason
    if before != override_dict(customer):
        record_change(session, actor, "customer.tier_override", "customer", customer.id, before, override_dict(customer))


async def clear_override(session: AsyncSession, actor: Actor, customer: Customer, now: datetime) -> None:
    """Back to the rules' tier (at once, when rules are defined). Audited."""
    actor.require(Role.AGENT, Role.OPS)
    if customer.tier_override is None:
        return
    before = override_dict(customer)
    customer.tier_override = None
    await session.flush()
    rules = await load_rules(session)
    if rules:
        await _apply(session, [customer], rules, now)
    record_change(session, actor, "customer.tier_override_cleared", "customer", customer.id, before,
                  override_dict(customer))
