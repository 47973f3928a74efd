"""What the tier rules look at, for a batch of customers in two queries: their contacts
(calls, mails and web requests) per window of days and the last one's age, their tickets and
complaints per window, and their CRM attributes.

A complaint is a ticket with a complaint category (set by a routing rule, a template, a call's
wrap-up or a bad rating), in the complaint category, or with a complaint tag. Merged-away tickets are left out of the counts, so a
merge does not count one request twice.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import Category, Channel, Customer, EntryKind, Ticket, TicketTag, TimelineEntry
from core.tier_rules import Condition, TierRule

COMPLAINT_TAGS = ("complaint", "bad-rating")
_CONTACT_KINDS = (EntryKind.CALL.value, EntryKind.EMAIL_IN.value)


@dataclasses.dataclass(slots=True)
class CustomerFacts:
    now: datetime
    attributes: dict[str, Any]
    counts: dict[tuple[str, int | None], int] = dataclasses.field(default_factory=dict)
    last_contact_at: datetime | None = None

    def value_of(self, condition: Condition) -> Any:
        if condition.field == "attribute":
            return self.attributes.get(condition.attribute)
        if condition.field == "days_since_last_contact":
            if self.last_contact_at is None:
                return None
            last = self.last_contact_at if self.last_contact_at.tzinfo else self.last_contact_at.replace(tzinfo=self.now.tzinfo)
            return max((self.now - last).days, 0)
        return self.counts.get((condition.field, condition.days), 0)


def windows(rules: list[TierRule]) -> set[tuple[str, int | None]]:
    """Every (count, days) some rule asks for."""
    return {(c.field, c.days) for r in rules for c in r.conditions
            if c.field not in ("attribute", "days_since_last_contact")}


async def gather(session: AsyncSession, customers: list[Customer], rules: list[TierRule],
                 now: datetime) -> dict[int, CustomerFacts]:
    facts = {c.id: CustomerFacts(now, dict(c.attributes or {})) for c in customers}
    if not facts:
        return facts
    wanted = windows(rules)
    needs_last = any(c.field == "days_since_last_contact" for r in rules for c in r.conditions)
    ids = list(facts)

    def since(column: Any, days: int | None) -> Any:
        return true() if days is None else column >= now - timedelta(days=days)

    contact_keys = [k for k in sorted(wanted, key=str) if k[0] in ("contacts", "calls", "emails", "web_requests")]
    if contact_keys or needs_last:
        is_web = Ticket.channel == Channel.WEB.value
        kind_test = {
            "contacts": true(),
            "calls": TimelineEntry.kind == EntryKind.CALL.value,
            "emails": and_(TimelineEntry.kind == EntryKind.EMAIL_IN.value, ~is_web),
            "web_requests": and_(TimelineEntry.kind == EntryKind.EMAIL_IN.value, is_web),
        }
        columns = [func.sum(case((and_(kind_test[f], since(TimelineEntry.created_at, d)), 1), else_=0))
                   for f, d in contact_keys]
        stmt = (select(Ticket.customer_id, func.max(TimelineEntry.created_at), *columns)
                .join(Ticket, Ticket.id == TimelineEntry.ticket_id)
                .where(Ticket.customer_id.in_(ids), TimelineEntry.kind.in_(_CONTACT_KINDS))
                .group_by(Ticket.customer_id))
        for customer_id, last, *counts in (await session.execute(stmt)).all():
            fact = facts[customer_id]
            fact.last_contact_at = last
            fact.counts.update({key: int(n or 0) for key, n in zip(contact_keys, counts, strict=True)})
    ticket_keys = [k for k in sorted(wanted, key=str) if k[0] in ("tickets", "complaints")]
    if ticket_keys:
        complaint = or_(Ticket.complaint_category.is_not(None), Ticket.category == Category.COMPLAINT.value,
                        exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.tag.in_(COMPLAINT_TAGS)))
        columns = [func.sum(case((and_(true() if f == "tickets" else complaint, since(Ticket.created_at, d)), 1),
                                 else_=0)) for f, d in ticket_keys]
        stmt = (select(Ticket.customer_id, *columns)
                .where(Ticket.customer_id.in_(ids), Ticket.merged_into_id.is_(None))
                .group_by(Ticket.customer_id))
        for customer_id, *counts in (await session.execute(stmt)).all():
            facts[customer_id].counts.update({key: int(n or 0) for key, n in zip(ticket_keys, counts, strict=True)})
    return facts
