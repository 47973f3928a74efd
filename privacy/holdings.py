"""Everything the database holds about one customer, found by walking the schema's foreign keys.

The walk starts at the customer's row and takes, table by table, every row that references a
row already taken (a ticket references the customer, a timeline entry the ticket, an attachment
the mail message...), until nothing new is found. Tables are enumerated from the metadata, so a
table added later is covered without touching this module. The audit log names its rows by
entity and id instead of a foreign key, so its customer and ticket rows are added by name; mail
queued to one of the customer's addresses about no ticket (a sign-in link) by its recipient.
Both the subject access export and the erasure read this one answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.records import AuditLog, Base, Customer

CHUNK = 500
# Links not followed: a ticket merged into one of this customer's tickets stays another
# customer's ticket (its own ``customer_id`` says whose).
NOT_FOLLOWED = frozenset({("tickets", "merged_into_id")})
# Audit entities whose ``entity_id`` is the id of a row in this table.
AUDITED_ENTITIES = {"customer": "customers", "ticket": "tickets"}

Key = tuple[Any, ...]
MAX_ID = 2**31 - 1  # ids are 32-bit columns: a larger one names nothing (and PostgreSQL refuses it)


async def find_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id) if 1 <= customer_id <= MAX_ID else None
    if customer is None:
        raise NotFound("no such customer", {"field": "customer_id", "id": customer_id})
    return customer


@dataclasses.dataclass
class Holdings:
    """Rows by table name, each keyed by its primary key."""

    customer_id: int
    rows: dict[str, dict[Key, dict[str, Any]]] = dataclasses.field(default_factory=dict)

    def ids(self, table: str, column: str = "id") -> set[Any]:
        return {row[column] for row in self.rows.get(table, {}).values()}

    def count(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in sorted(self.rows.items()) if rows}

    def _add(self, table: Table, found: Iterable[dict[str, Any]]) -> int:
        added = 0
        for row in found:
            held = self.rows.setdefault(table.name, {})
            key = primary_key(table, row)
            if key not in held:
                held[key] = row
                added += 1
        return added


def primary_key(table: Table, row: dict[str, Any]) -> Key:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


async def _select(session: AsyncSession, table: Table, column: Column[Any], values: set[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    ordered = sorted(v for v in values if v is not None)
    for chunk in _chunks(ordered):
        result = await session.execute(select(table).where(column.in_(chunk)))
        found.extend(dict(row._mapping) for row in result)
    return found


async def customer_holdings(session: AsyncSession, customer_id: int) -> Holdings:
    """Every row that is about the customer (the customer's own row first)."""
    metadata = Base.metadata
    holdings = Holdings(customer_id)
    customers = metadata.tables["customers"]
    holdings._add(customers, await _select(session, customers, customers.c.id, {customer_id}))
    changed = True
    while changed:
        changed = False
        for table in metadata.sorted_tables:
            for fk in table.foreign_keys:
                parent = fk.column.table
                if (table.name, fk.parent.name) in NOT_FOLLOWED or parent.name not in holdings.rows:
                    continue
                wanted = holdings.ids(parent.name, fk.column.name)
                if wanted and holdings._add(table, await _select(session, table, fk.parent, wanted)):
                    changed = True
    # Mail about no ticket (a help-centre sign-in link) is theirs by its recipient alone.
    outbox = metadata.tables["outbox"]
    addresses = {a.lower() for a in holdings.ids("customer_emails", "address")}
    for chunk in _chunks(sorted(addresses)):
        result = await session.execute(select(outbox).where(func.lower(outbox.c.recipient).in_(chunk)))
        holdings._add(outbox, (dict(row._mapping) for row in result))
    audit = AuditLog.__table__
    named = [(entity, {str(i) for i in holdings.ids(table)}) for entity, table in AUDITED_ENTITIES.items()]
    conditions = [
        (audit.c.entity == entity) & audit.c.entity_id.in_(chunk)
        for entity, ids in named for chunk in _chunks(sorted(ids))
    ]
    if conditions:
        result = await session.execute(select(audit).where(or_(*conditions)))
        assert isinstance(audit, Table)
        holdings._add(audit, (dict(row._mapping) for row in result))
    return holdings
