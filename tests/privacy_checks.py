"""What the database holds about one customer, read independently of the product's own
``privacy`` package, so the subject-access and erasure tests (integration and browser) compare
the archive and the erased database against the test's answer, not the code's.

* ``held_in_database(db, customer_id)``: every row reachable through foreign keys from the
  customer's row, table by table from the metadata (a new table is caught), plus the mail queued
  to one of their addresses and the audit rows naming the customer or one of their tickets;
  keyed by table name, as primary-key tuples.
* ``archive_keys(archive)``: the same shape, read from an export zip's ``tables/*.json``.
* ``personal_leftovers(db, values)``: every text, JSON and binary column of every table,
  searched (case-insensitively) for any of ``values``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Text, func, select

from core.db import Database
from core.records import AuditLog, Base


async def held_in_database(db: Database, customer_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """The test's own answer to "which rows are about this customer"."""
    held: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    async with db.session() as session:
        customers = Base.metadata.tables["customers"]
        held["customers"] = {(customer_id,): dict((await session.execute(
            select(customers).where(customers.c.id == customer_id))).one()._mapping)}
        grew = True
        while grew:
            grew = False
            for table in Base.metadata.tables.values():
                for fk in table.foreign_keys:
                    if (table.name, fk.parent.name) == ("tickets", "merged_into_id"):
                        continue  # another customer's ticket merged into theirs stays that customer's
                    parents = {r[fk.column.name] for r in held.get(fk.column.table.name, {}).values()}
                    if not parents:
                        continue
                    for row in (await session.execute(select(table).where(fk.parent.in_(parents)))).all():
                        mapping = dict(row._mapping)
                        key = tuple(mapping[c.name] for c in table.primary_key.columns)
                        if key not in held.setdefault(table.name, {}):
                            held[table.name][key] = mapping
                            grew = True
        addresses = {r["address"].lower() for r in held.get("customer_emails", {}).values()}
        outbox = Base.metadata.tables["outbox"]
        for row in (await session.execute(select(outbox).where(func.lower(outbox.c.recipient).in_(addresses)))).all():
            held.setdefault("outbox", {})[(row.id,)] = dict(row._mapping)  # mail to them, about a ticket or not
        ticket_ids = {str(r["id"]) for r in held.get("tickets", {}).values()}
        audit = (await session.execute(select(AuditLog.id).where(
            ((AuditLog.entity == "customer") & (AuditLog.entity_id == str(customer_id)))
            | ((AuditLog.entity == "ticket") & AuditLog.entity_id.in_(ticket_ids))))).scalars()
        held.setdefault("audit_log", {}).update({(i,): {} for i in audit})
    return {name: set(rows) for name, rows in held.items() if rows}


def archive_keys(archive: zipfile.ZipFile) -> dict[str, set[tuple[Any, ...]]]:
    keys: dict[str, set[tuple[Any, ...]]] = {}
    for name in archive.namelist():
        if name.startswith("tables/"):
            table = Base.metadata.tables[name.removeprefix("tables/").removesuffix(".json")]
            rows = json.loads(archive.read(name))
            keys[table.name] = {tuple(r[c.name] for c in table.primary_key.columns) for r in rows}
    return keys


def missing_from_archive(in_database: dict[str, set[tuple[Any, ...]]],
                         in_archive: dict[str, set[tuple[Any, ...]]]) -> dict[str, set[tuple[Any, ...]]]:
    """Rows the database holds about the customer that the archive lacks, by table."""
    return {t: keys - in_archive.get(t, set()) for t, keys in in_database.items() if keys - in_archive.get(t, set())}


async def personal_leftovers(db: Database, values: Iterable[str]) -> list[str]:
    """``table.column: value`` for every place one of ``values`` is still written."""
    wanted = [v for v in values if v]
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)]
            if not columns:
                continue
            for row in (await session.execute(select(*columns))).all():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else \
                        json.dumps(value, ensure_ascii=False) if isinstance(column.type, JSON) else str(value)
                    found += [f"{table.name}.{column.name}: {p}" for p in wanted if p.lower() in text.lower()]
    return found
