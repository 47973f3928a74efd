"""Exporting the customer directory as CSV, in the columns the import reads back.

Streamed in batches by id (keyset pages), so a large directory is never held in memory or
written in one go; merged customers are left out (their phones and emails are the survivor's).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.customer_import import COLUMNS
from core.records import Customer, Role

BATCH = 500


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _cells(customer: Customer) -> list[str]:
    values = {
        "name": customer.name,
        "emails": ";".join(e.address for e in customer.emails),
        "phones": ";".join(p.e164 for p in customer.phones),
        "tier": customer.tier,
        "tier_reason": customer.tier_reason or "",
        "language": customer.language or "",
        "tags": ";".join(str(t) for t in customer.tags or []),
        "external_id": customer.external_id or "",
        "notes": customer.notes or "",
    }
    # A cell that starts like a formula is quoted with an apostrophe, so a spreadsheet shows it
    # as text instead of running it.
    return [("'" + v) if v[:1] in ("=", "+", "-", "@") and key not in ("phones",) else v
            for key, v in ((k, values[k]) for k in COLUMNS)]


async def export_customers(session: AsyncSession, actor: Actor) -> AsyncIterator[str]:
    """The header, then one CSV chunk per batch of customers. The whole directory leaves the
    building: supervisors and ops only."""
    actor.require(Role.SUPERVISOR, Role.OPS)
    yield _csv_text([list(COLUMNS)])
    last = 0
    while True:
        stmt = (select(Customer).where(Customer.id > last, Customer.merged_into_id.is_(None))
                .order_by(Customer.id).limit(BATCH))
        batch = list((await session.execute(stmt)).scalars())
        if not batch:
            return
        last = batch[-1].id
        yield _csv_text([_cells(c) for c in batch])
