"""Everything the customer page shows about one person, read in a few queries.

Their record, every ticket, every call and mail (timeline entries across their tickets),
why their tier is what it is (the reason written with it, and who last changed it when),
and the merges that can still be undone.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.customer_merging import undo_deadline
from core.customers import get_customer
from core.records import (
    AuditLog,
    Customer,
    CustomerMerge,
    EntryKind,
    Role,
    Ticket,
    TimelineEntry,
    User,
)

CONTACT_KINDS = (EntryKind.CALL.value, EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value)


@dataclasses.dataclass(slots=True)
class TierChange:
    tier: str
    by: str | None  # display name; None for the system (an import by a script, the mail ingest)
    at: datetime
    action: str


@dataclasses.dataclass(slots=True)
class CustomerProfile:
    customer: Customer
    merged_into: Customer | None
    tickets: list[Ticket]
    contacts: list[tuple[TimelineEntry, Ticket]]
    tier_change: TierChange | None
    merges: list[tuple[CustomerMerge, Customer, datetime]]  # merges into this customer, with their deadline


async def customer_profile(
    session: AsyncSession, actor: Actor, customer_id: int, *, tickets: int = 200, contacts: int = 100
) -> CustomerProfile:
    actor.require(Role.AGENT, Role.OPS)
    customer = await get_customer(session, customer_id)
    merged_into = await session.get(Customer, customer.merged_into_id) if customer.merged_into_id else None
    ticket_rows = list((await session.execute(
        select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(tickets))).scalars().unique())
    contact_rows = [(e, t) for e, t in (await session.execute(
        select(TimelineEntry, Ticket).join(Ticket, Ticket.id == TimelineEntry.ticket_id)
        .where(Ticket.customer_id == customer.id, TimelineEntry.kind.in_(CONTACT_KINDS))
        .order_by(TimelineEntry.created_at.desc(), TimelineEntry.id.desc()).limit(contacts))).unique().all()]
    merges = [(m, c, undo_deadline(m)) for m, c in (await session.execute(
        select(CustomerMerge, Customer).join(Customer, Customer.id == CustomerMerge.merged_id)
        .where(CustomerMerge.survivor_id == customer.id, CustomerMerge.undone_at.is_(None))
        .order_by(CustomerMerge.id.desc()))).unique().all()]
    return CustomerProfile(customer, merged_into, ticket_rows, contact_rows, await _tier_change(session, customer),
                           merges)


async def _tier_change(session: AsyncSession, customer: Customer) -> TierChange | None:
    """The latest audited change that set the customer's tier (creation counts)."""
    rows = (await session.execute(
        select(AuditLog, User.display_name).outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.entity == "customer", AuditLog.entity_id == str(customer.id))
        .order_by(AuditLog.id.desc()).limit(50))).all()
    for entry, name in rows:
        after = entry.after or {}
        before = entry.before or {}
        if "tier" in after and (not before or before.get("tier") != after.get("tier")):
            return TierChange(str(after["tier"]), name, entry.at, entry.action)
    return None
