"""Merging two customer records that are one person, and undoing it within a day.

One person writes from two addresses and calls from a third: the agent merges the records.
The survivor takes every phone, email, ticket (with its timeline), call and routed contact;
the other record stays, marked ``merged_into_id``, so nothing is lost. The merge keeps the
ids of every row it moved (``CustomerMerge.moved``): an undo within ``UNDO_WINDOW`` moves
exactly those rows back. Later, the rows have lived on the survivor long enough (new
tickets, replies) that moving them back would guess, so the undo is refused.

Rows in other packages' tables (calls, routed contacts) are found through the shared
metadata: any table with a ``customer_id`` column that references ``customers`` moves, so a
package adding such a table needs no change here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import as_utc
from core.customers import customer_dict, get_customer
from core.errors import Conflict, InvalidInput, NotFound
from core.records import Base, Customer, CustomerEmail, CustomerMerge, CustomerPhone, Role, Ticket

UNDO_WINDOW = timedelta(hours=24)
# Tables moved through the ORM (so the search index follows) or not moved at all.
_HANDLED = frozenset({"customers", "customer_phones", "customer_emails", "tickets", "search_documents"})


def _tables_with_customers() -> list[Table]:
    """Every other table whose ``customer_id`` points at a customer (calls, routed contacts, ...)."""
    found = []
    for name, table in sorted(Base.metadata.tables.items()):
        column = table.columns.get("customer_id")
        if name in _HANDLED or column is None:
            continue
        if any(fk.column.table.name == "customers" for fk in column.foreign_keys):
            found.append(table)
    return found


async def merge_customers(
    session: AsyncSession, actor: Actor, survivor_id: int, merged_id: int, now: datetime
) -> CustomerMerge:
    """Move everything of ``merged_id`` to ``survivor_id``; the merged record is kept and marked."""
    actor.require(Role.AGENT, Role.OPS)
    if survivor_id == merged_id:
        raise InvalidInput("a customer cannot be merged into itself", {"field": "other_id"})
    survivor = await get_customer(session, survivor_id)
    merged = await get_customer(session, merged_id)
    for customer in (survivor, merged):
        if customer.merged_into_id is not None:
            raise Conflict("this customer was already merged into another", {"id": customer.id,
                                                                               "into": customer.merged_into_id})
    before = {"survivor": customer_dict(survivor), "merged": customer_dict(merged)}
    phones = list(merged.phones)
    emails = list(merged.emails)
    tickets = list((await session.execute(select(Ticket).where(Ticket.customer_id == merged.id))).scalars())
    rows: dict[str, list[int]] = {}
    for table in _tables_with_customers():
        ids = list((await session.execute(select(table.c.id).where(table.c.customer_id == merged.id))).scalars())
        if ids:
            rows[table.name] = ids
            await session.execute(update(table).where(table.c.id.in_(ids)).values(customer_id=survivor.id))
    for phone in phones:
        phone.customer_id = survivor.id
    for email in emails:
        email.customer_id = survivor.id
    for ticket in tickets:
        ticket.customer_id = survivor.id
    moved: dict[str, Any] = {
        "phones": [p.id for p in phones],
        "emails": [e.id for e in emails],
        "tickets": [t.id for t in tickets],
        "rows": rows,
        "survivor_tags": list(survivor.tags or []),
    }
    survivor.tags = list(dict.fromkeys([*(survivor.tags or []), *(merged.tags or [])]))
    merged.merged_into_id = survivor.id
    record = CustomerMerge(survivor_id=survivor.id, merged_id=merged.id, actor_id=actor.user_id, at=now, moved=moved)
    session.add(record)
    await session.flush()
    await session.refresh(survivor, ["phones", "emails"])
    await session.refresh(merged, ["phones", "emails"])
    record_change(session, actor, "customer.merge", "customer", survivor.id, before,
                  {"survivor": customer_dict(survivor), "merged": customer_dict(merged), "merge_id": record.id,
                   "moved": moved})
    return record


async def latest_merge(session: AsyncSession, merged_id: int) -> CustomerMerge | None:
    """The merge, not undone, that folded ``merged_id`` into another customer."""
    stmt = (
        select(CustomerMerge)
        .where(CustomerMerge.merged_id == merged_id, CustomerMerge.undone_at.is_(None))
        .order_by(CustomerMerge.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


def undo_deadline(merge: CustomerMerge) -> datetime:
    return as_utc(merge.at) + UNDO_WINDOW


async def unmerge_customer(session: AsyncSession, actor: Actor, merged_id: int, now: datetime) -> Customer:
    """Move back exactly what the merge moved; refused once ``UNDO_WINDOW`` has passed."""
    actor.require(Role.AGENT, Role.OPS)
    merged = await get_customer(session, merged_id)
    merge = await latest_merge(session, merged_id)
    if merge is None or merged.merged_into_id is None:
        raise NotFound("this customer is not merged into another", {"id": merged_id})
    deadline = undo_deadline(merge)
    if now > deadline:
        raise Conflict("a merge can only be undone within 24 hours of it", {
            "merged_at": as_utc(merge.at).isoformat(), "deadline": deadline.isoformat()})
    survivor = await get_customer(session, merge.survivor_id)
    if survivor.merged_into_id is not None:
        raise Conflict("the survivor was merged again since; undo that merge first", {"id": survivor.id})
    before = {"survivor": customer_dict(survivor), "merged": customer_dict(merged)}
    moved = merge.moved
    back: list[Any] = []
    for model, key in ((CustomerPhone, "phones"), (CustomerEmail, "emails"), (Ticket, "tickets")):
        ids = moved.get(key) or []
        if ids:
            back += (await session.execute(
                select(model).where(model.id.in_(ids), model.customer_id == survivor.id))).scalars().all()
    for item in back:
        item.customer_id = merged.id
    tables = {t.name: t for t in _tables_with_customers()}
    for name, ids in (moved.get("rows") or {}).items():
        table = tables.get(name)
        if table is not None and ids:
            await session.execute(update(table).where(table.c.id.in_(ids), table.c.customer_id == survivor.id)
                                  .values(customer_id=merged.id))
    survivor.tags = list(moved.get("survivor_tags") or [])
    merged.merged_into_id = None
    merge.undone_at = now
    await session.flush()
    await session.refresh(survivor, ["phones", "emails"])
    await session.refresh(merged, ["phones", "emails"])
    record_change(session, actor, "customer.unmerge", "customer", merged.id, before,
                  {"survivor": customer_dict(survivor), "merged": customer_dict(merged), "merge_id": merge.id})
    return merged
