"""Erasure: a customer anonymised everywhere, the counts kept.

Every row ``privacy.holdings`` finds is either deleted (contact details, sign-ins, attachments,
drafts, search entries: nothing there counts for a report) or kept with its text wiped: free
text and JSON strings are emptied, binary contents dropped, while the columns reports count by
(status, channel, queue, category, outcome, timestamps, ids) stay. Columns are kept by name and
everything else is wiped, so a column added later is wiped until someone decides otherwise. A
last pass empties any kept value that still contains one of the customer's names, addresses or
numbers. The customer row keeps its id and ``erased_at`` is set: nothing is mailed to them again.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Table, Text, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import Conflict, InvalidInput
from core.normalize import fold
from core.records import Base, Customer, OutboxStatus, Role
from privacy.holdings import Holdings, customer_holdings, find_customer, primary_key

ERASED_NAME = "(erased)"
# Rows removed outright.
DELETED_TABLES = frozenset({
    "customer_phones", "customer_emails", "customer_sign_in_links", "customer_sessions",
    "mail_attachments", "reply_drafts", "search_documents",
})
# Text columns kept as they are: what reports group and count by, and the identifiers that
# keep threading and de-duplication working (they carry no personal words).
KEPT_COLUMNS = frozenset({
    "status", "channel", "queue", "kind", "direction", "category", "outcome", "rating", "via",
    "mailbox", "pbx", "linkedid", "message_id", "content_hash", "dedup_key", "tier", "language",
    "sla_policy", "sla_target", "sla_state", "interface", "skill", "team", "strategy", "state",
    "policy", "target", "channels", "recipients", "acknowledged_via", "action", "entity",
    "entity_id", "tag", "content_type", "ref", "moved", "complaint_category",
})
# Keys whose string values survive inside a wiped JSON document (a status change's states,
# a rating's verdict), so the timeline and reports still read.
KEPT_JSON_KEYS = frozenset({
    "status", "kind", "rating", "category", "queue", "outcome", "direction", "channel", "rule",
    "team", "skill", "state", "action", "level", "target", "policy", "tier", "language",
})


@dataclasses.dataclass(frozen=True)
class ErasureResult:
    customer_id: int
    erased_at: datetime
    kept: dict[str, int]
    deleted: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "erased_at": self.erased_at.isoformat(),
                "kept": self.kept, "deleted": self.deleted}


def personal_values(holdings: Holdings) -> set[str]:
    """The customer's own words to hunt down: names, addresses, numbers (as stored and as digits)."""
    found: set[str] = set()
    for row in holdings.rows.get("customers", {}).values():
        found.add(row["name"])
        found.add(row.get("external_id") or "")
    for row in holdings.rows.get("customer_emails", {}).values():
        found.add(row["address"])
    for row in holdings.rows.get("customer_phones", {}).values():
        found.update({row["e164"], row["e164"].lstrip("+")})
    for row in holdings.rows.get("calls", {}).values():
        found.update({row["number"], row["number"].lstrip("+"), row["caller_name"]})
    for row in holdings.rows.get("customer_sign_in_links", {}).values():
        found.add(row["address"])
    return {fold(v) for v in found if v and len(v.strip()) >= 3}


def _contains(value: str, personal: set[str]) -> bool:
    folded = fold(value)
    return any(p in folded for p in personal)


def scrub_json(value: Any, personal: set[str], key: str = "") -> Any:
    if isinstance(value, str):
        return value if key in KEPT_JSON_KEYS and not _contains(value, personal) else ""
    if isinstance(value, dict):
        return {k: scrub_json(v, personal, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, personal, key) for v in value]
    return value


def _wiped(table: Table, row: dict[str, Any], personal: set[str]) -> dict[str, Any]:
    """The new values of the row's columns that change."""
    changes: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key or column.foreign_keys or column.name not in row:
            continue  # (an insert sentinel is never selected)
        value = row[column.name]
        if value is None:
            continue
        kept = column.name in KEPT_COLUMNS
        if isinstance(column.type, JSON):
            new = (value if not _json_has(value, personal) else scrub_json(value, personal)) if kept \
                else scrub_json(value, personal)
        elif isinstance(column.type, LargeBinary):
            new = None if column.nullable else b""
        elif isinstance(column.type, String | Text):
            new = value if kept and not _contains(value, personal) else (None if column.nullable else "")
        else:
            continue
        if new != value:
            changes[column.name] = new
    return changes


def _json_has(value: Any, personal: set[str]) -> bool:
    if isinstance(value, str):
        return _contains(value, personal)
    if isinstance(value, dict):
        return any(_json_has(v, personal) for v in value.values())
    if isinstance(value, list):
        return any(_json_has(v, personal) for v in value)
    return False


def confirmed(customer: Customer, confirmation: str) -> bool:
    """The confirmation typed on the erase form: the customer's name, or their id when nameless."""
    typed = fold(confirmation.strip())
    expected = fold(customer.name.strip()) if customer.name.strip() else str(customer.id)
    return bool(typed) and typed == expected


async def erase_customer(session: AsyncSession, actor: Actor, customer_id: int, confirmation: str,
                         now: datetime) -> ErasureResult:
    """Anonymise ``customer_id`` everywhere in the caller's transaction, audited with counts only."""
    actor.require(Role.ADMIN)
    customer = await find_customer(session, customer_id)
    if customer.erased_at is not None:
        raise Conflict("this customer is already erased", {"field": "customer_id", "id": customer_id})
    if not confirmed(customer, confirmation):
        raise InvalidInput("the confirmation does not match the customer's name", {"field": "confirmation"})
    holdings = await customer_holdings(session, customer_id)
    personal = personal_values(holdings)
    tables = Base.metadata.tables
    kept: dict[str, int] = {}
    deleted: dict[str, int] = {}
    # Children before parents, so a delete never trips a foreign key.
    for table in reversed(Base.metadata.sorted_tables):
        rows = holdings.rows.get(table.name)
        if not rows:
            continue
        pk = list(table.primary_key.columns)
        if table.name in DELETED_TABLES:
            for key in rows:
                await session.execute(delete(table).where(*(c == v for c, v in zip(pk, key, strict=True))))
            deleted[table.name] = len(rows)
            continue
        for row in rows.values():
            changes = _wiped(table, row, personal)
            if table.name == "outbox" and row["status"] == OutboxStatus.PENDING.value:
                changes.update(status=OutboxStatus.FAILED.value, last_error="customer erased")
            if changes:
                key = primary_key(table, row)
                await session.execute(update(table).where(*(c == v for c, v in zip(pk, key, strict=True)))
                                      .values(**changes))
        kept[table.name] = len(rows)
    customers = tables["customers"]
    await session.execute(update(customers).where(customers.c.id.in_(holdings.ids("customers")))
                          .values(name=ERASED_NAME, erased_at=now))
    session.expire_all()
    record_change(session, actor, "customer.erase", "customer", customer_id,
                  after={"erased_at": now.isoformat(), "kept": kept, "deleted": deleted})
    return ErasureResult(customer_id, now, kept, deleted)
