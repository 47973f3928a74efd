"""Importing customers from a CSV file: a dry run that says what would happen, then all or nothing.

The same planning runs for the preview and the import, so what the person confirmed is what
happens: each row is new, an update of the customer who already has one of its phones or
emails, a duplicate (of an earlier row, or of a customer with nothing new in it) or an error
with its row number and reason. The import writes the new and updated rows in one
transaction; rows with errors and duplicates are left out and reported, and if anything
fails the whole import rolls back.

Parsing and normalising (``phonenumbers`` is pure Python, about a millisecond a number)
runs in a worker thread, and the writes go in chunks, each an awaited flush, so a file of
thousands of rows never holds up the event loop.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change, record_changes
from core.auth import Actor
from core.clock import utcnow
from core.customer_attributes import CSV_PREFIX, check_attributes, typed_cell
from core.customers import customer_dict, normalize_customer_phone, normalize_email
from core.errors import InvalidInput
from core.records import Customer, CustomerEmail, CustomerPhone, Role, Tier
from core.search_index import reindex_customers
from core.tiering import recompute

# Columns a file may have (header row, any order, any case); several phones, emails or tags
# go in one cell separated by ";". A column "attr.NAME" fills the CRM attribute NAME (a number
# when the cell is one, text otherwise); a tier given in the file is a person's (an override).
COLUMNS = ("name", "emails", "phones", "tier", "tier_reason", "language", "tags", "external_id", "notes")
_ALIASES = {"email": "emails", "phone": "phones", "tag": "tags"}
MAX_ROWS = 20_000
CHUNK = 250  # rows written per flush; also the size of each IN (...) lookup


@dataclasses.dataclass(frozen=True, slots=True)
class RowIssue:
    """A row left out. ``code``: invalid (``message`` says why, ``field`` which cell),
    duplicate-row (repeats ``params["row"]``), duplicate-customer (already customer
    ``params["id"]`` with nothing new), ambiguous (its phones and emails belong to different
    customers, ``params["ids"]``)."""

    row: int
    code: str
    message: str = ""
    field: str = ""
    value: str = ""
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class ImportRow:
    row: int
    name: str
    phones: list[str]
    emails: list[str]
    given: dict[str, Any]  # the other cells that were filled in: tier, language, tags, ...


@dataclasses.dataclass(slots=True)
class ImportPlan:
    new: list[ImportRow] = dataclasses.field(default_factory=list)
    updates: list[tuple[ImportRow, int]] = dataclasses.field(default_factory=list)  # (row, customer id)
    duplicates: list[RowIssue] = dataclasses.field(default_factory=list)
    errors: list[RowIssue] = dataclasses.field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "updated": len(self.updates), "duplicates": len(self.duplicates),
                "errors": len(self.errors)}

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts,
                "duplicates": [dataclasses.asdict(d) for d in self.duplicates],
                "errors": [dataclasses.asdict(e) for e in self.errors]}


def _cells(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def parse_rows(text: str, region: str) -> tuple[list[ImportRow], list[RowIssue]]:
    """Read and check every row (no database): CPU work, run it in a thread."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the file is empty", {"field": "file"}) from None
    except csv.Error:
        raise InvalidInput("the file is not CSV", {"field": "file"}) from None
    names = [h.strip() if h.strip().lower().startswith(CSV_PREFIX) else _ALIASES.get(h.strip().lower(), h.strip().lower())
             for h in header]
    if not {"name", "emails", "phones"} & set(names):
        raise InvalidInput("the first row must name the columns: name, emails, phones, ...", {"field": "file"})
    rows: list[ImportRow] = []
    issues: list[RowIssue] = []
    tiers = {t.value for t in Tier}
    number = 1
    try:
        for cells in reader:
            number += 1
            if number - 1 > MAX_ROWS:
                raise InvalidInput("the file has too many rows", {"field": "file", "max": MAX_ROWS})
            if not any(c.strip() for c in cells):
                continue
            record = {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(names)}
            try:
                rows.append(_checked_row(number, record, region, tiers))
            except InvalidInput as exc:
                issues.append(RowIssue(number, "invalid", exc.message, str(exc.details.get("field", "")),
                                       str(exc.details.get("value", ""))[:200]))
    except csv.Error as exc:
        raise InvalidInput("the file is not CSV", {"field": "file", "row": number, "detail": str(exc)}) from None
    return rows, issues


def _checked_row(number: int, record: dict[str, str], region: str, tiers: set[str]) -> ImportRow:
    phones = list(dict.fromkeys(normalize_customer_phone(p, region) for p in _cells(record.get("phones", ""))))
    emails = list(dict.fromkeys(normalize_email(e) for e in _cells(record.get("emails", ""))))
    if not (phones or emails or record.get("name")):
        raise InvalidInput("a row needs a name, a phone or an email", {"field": "name"})
    given: dict[str, Any] = {}
    tier = record.get("tier", "").lower()
    if tier:
        if tier not in tiers:
            raise InvalidInput("unknown tier", {"field": "tier", "value": tier})
        given["tier"] = tier
    for key, cap in (("language", 16), ("external_id", 100), ("tier_reason", 200), ("notes", 20_000)):
        value = record.get(key, "")
        if len(value) > cap:
            raise InvalidInput("the value is too long", {"field": key, "value": value[:40]})
        if value:
            given[key] = value
    if record.get("tags"):
        given["tags"] = _cells(record["tags"])
    attributes = {key[len(CSV_PREFIX):]: typed_cell(value) for key, value in record.items()
                  if key.lower().startswith(CSV_PREFIX) and value}
    if attributes:
        try:
            given["attributes"] = check_attributes(attributes)
        except InvalidInput as exc:
            column = str(exc.details.get("field", "")).replace("attributes.", CSV_PREFIX, 1)
            raise InvalidInput(exc.message, {"field": column}) from None
    name = record.get("name", "")
    if len(name) > 200:
        raise InvalidInput("the value is too long", {"field": "name", "value": name[:40]})
    return ImportRow(number, name, phones, emails, given)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def _owners(session: AsyncSession, column: Any, owner: Any, values: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(values))):
        found.update((await session.execute(select(column, owner).where(column.in_(chunk)))).all())
    return found


async def plan_import(session: AsyncSession, actor: Actor, text: str, region: str = "US") -> ImportPlan:
    """What importing ``text`` would do, writing nothing (the dry run). A bulk change to the
    directory: supervisors and ops, not every agent."""
    actor.require(Role.SUPERVISOR, Role.OPS)
    rows, errors = await asyncio.to_thread(parse_rows, text, region)
    plan = ImportPlan(errors=errors)
    phone_owner = await _owners(session, CustomerPhone.e164, CustomerPhone.customer_id, (p for r in rows for p in r.phones))
    email_owner = await _owners(session, CustomerEmail.address, CustomerEmail.customer_id,
                                (e for r in rows for e in r.emails))
    existing = await _existing(session, {*phone_owner.values(), *email_owner.values()})
    first_row: dict[str, int] = {}
    for row in rows:
        keys = [*row.phones, *row.emails]
        earlier = next((first_row[k] for k in keys if k in first_row), None)
        if earlier is not None:
            plan.duplicates.append(RowIssue(row.row, "duplicate-row", params={"row": earlier}))
            continue
        for key in keys:
            first_row[key] = row.row
        owners = sorted({*(phone_owner[p] for p in row.phones if p in phone_owner),
                         *(email_owner[e] for e in row.emails if e in email_owner)})
        if not owners:
            plan.new.append(row)
        elif len(owners) > 1:
            plan.errors.append(RowIssue(row.row, "ambiguous", params={"ids": owners}))
        elif _changes(existing[owners[0]], row):
            plan.updates.append((row, owners[0]))
        else:
            plan.duplicates.append(RowIssue(row.row, "duplicate-customer", params={"id": owners[0]}))
    plan.errors.sort(key=lambda issue: issue.row)
    return plan


async def _existing(session: AsyncSession, ids: set[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for chunk in _chunks(sorted(ids)):
        found.update((c.id, c) for c in (await session.execute(select(Customer).where(Customer.id.in_(chunk)))).scalars())
    return found


def _changes(customer: Customer, row: ImportRow) -> dict[str, Any]:
    """What the row adds to an existing customer: new phones and emails, filled-in cells that differ."""
    changes: dict[str, Any] = {}
    phones = [p for p in row.phones if p not in {x.e164 for x in customer.phones}]
    emails = [e for e in row.emails if e not in {x.address for x in customer.emails}]
    if phones:
        changes["phones"] = phones
    if emails:
        changes["emails"] = emails
    if row.name and row.name != customer.name:
        changes["name"] = row.name
    for key, value in row.given.items():
        if key == "tags":
            value = list(dict.fromkeys([*(customer.tags or []), *value]))
        if key == "attributes":
            value = {**(customer.attributes or {}), **value}
        if key == "tier":  # a tier the customer already has (the rules', or a person's) is no change
            if value != (customer.tier_override or customer.tier):
                changes[key] = value
        elif getattr(customer, key) != value:
            changes[key] = value
    return changes


async def _insert_new(session: AsyncSession, actor: Actor, rows: list[ImportRow]) -> set[int]:
    """One chunk of new customers: the records through the ORM (batched, their ids come back),
    their phones, emails and audit rows as one multi-row INSERT each, then their search
    documents (the ORM would insert each phone and audit row on its own: seconds per 1,000)."""
    made = [
        Customer(name=r.name, tier=r.given.get("tier", Tier.STANDARD.value), tier_override=r.given.get("tier"),
                 attributes=r.given.get("attributes", {}), language=r.given.get("language"),
                 tags=r.given.get("tags", []), external_id=r.given.get("external_id"),
                 notes=r.given.get("notes", ""), tier_reason=r.given.get("tier_reason", ""))
        for r in rows
    ]
    session.add_all(made)
    await session.flush()
    pairs = list(zip(made, rows, strict=True))
    phones = [{"customer_id": c.id, "e164": p} for c, r in pairs for p in r.phones]
    emails = [{"customer_id": c.id, "address": e} for c, r in pairs for e in r.emails]
    if phones:
        await session.execute(insert(CustomerPhone), phones)
    if emails:
        await session.execute(insert(CustomerEmail), emails)
    await record_changes(session, actor, "customer.import", "customer", [
        (c.id, None, {"id": c.id, "name": c.name, "tier": c.tier, "language": c.language, "tags": list(c.tags),
                      "external_id": c.external_id, "notes": c.notes, "tier_reason": c.tier_reason,
                      "tier_override": c.tier_override, "attributes": dict(c.attributes),
                      "merged_into_id": None, "phones": r.phones, "emails": r.emails})
        for c, r in pairs
    ])
    ids = {c.id for c in made}
    await session.run_sync(lambda sync: reindex_customers(sync.connection(), ids))
    for customer in made:  # their phone and email lists were written around the ORM: read them afresh
        session.expire(customer, ["phones", "emails"])
    return ids


async def import_customers(session: AsyncSession, actor: Actor, text: str, region: str = "US",
                           now: datetime | None = None) -> ImportPlan:
    """Plan again and write the plan's new and updated rows, in the caller's transaction; then
    the tier rules look at every customer the file touched (their attributes may have changed)."""
    plan = await plan_import(session, actor, text, region)
    touched: set[int] = set()
    for chunk in _chunks(plan.new):
        touched.update(await _insert_new(session, actor, chunk))
    for chunk in _chunks(plan.updates):
        customers = await _existing(session, {cid for _row, cid in chunk})
        for row, customer_id in chunk:
            customer = customers[customer_id]
            before = customer_dict(customer)
            changes = _changes(customer, row)
            customer.phones.extend(CustomerPhone(e164=p) for p in changes.pop("phones", []))
            customer.emails.extend(CustomerEmail(address=e) for e in changes.pop("emails", []))
            for key, value in changes.items():
                setattr(customer, key, value)
                if key == "tier":
                    customer.tier_override = value
            touched.add(customer.id)
            record_change(session, actor, "customer.import", "customer", customer.id, before, customer_dict(customer))
        await session.flush()
    await recompute(session, touched, now or utcnow())
    return plan
