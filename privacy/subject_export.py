"""Subject access: everything held about one customer as one zip archive.

``customer.json`` is the profile as the directory shows it; ``tables/<table>.json`` holds every
row of every table that is about the customer (``privacy.holdings``), column by column; binary
columns (attachments, raw messages) are written as files under ``files/`` and named in their row.
``manifest.json`` lists what is inside. The directory's CSV export (``core.customer_export``) is
a different job: one line per customer, for re-import, never a person's whole history.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.customers import customer_dict
from core.records import Role
from privacy.holdings import Holdings, customer_holdings, find_customer

_UNSAFE = re.compile(r"[^\w.\-]+")


def _file_name(table: str, row: dict[str, Any], column: str) -> str:
    key = "-".join(str(row[k]) for k in ("id",) if k in row) or "row"
    named = row.get("filename") if column == "data" else None
    leaf = _UNSAFE.sub("_", str(named))[:120] if named else f"{column}.bin"
    return f"files/{table}/{key}/{leaf}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def build_archive(holdings: Holdings, profile: dict[str, Any], generated_at: datetime) -> bytes:
    """The zip's bytes (pure: the rows are already read)."""
    buffer = io.BytesIO()
    files: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table, rows in sorted(holdings.rows.items()):
            out = []
            for row in rows.values():
                plain: dict[str, Any] = {}
                for column, value in row.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        name = _file_name(table, row, column)
                        archive.writestr(name, bytes(value))
                        files.append(name)
                        plain[column] = {"file": name, "size": len(bytes(value))}
                    else:
                        plain[column] = _plain(value)
                out.append(plain)
            archive.writestr(f"tables/{table}.json", json.dumps(out, ensure_ascii=False, indent=1, default=str))
        archive.writestr("customer.json", json.dumps(profile, ensure_ascii=False, indent=1, default=str))
        manifest = {"customer_id": holdings.customer_id, "generated_at": generated_at.isoformat(),
                    "tables": holdings.count(), "files": files}
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    return buffer.getvalue()


async def export_customer(session: AsyncSession, actor: Actor, customer_id: int, now: datetime) -> bytes:
    """The archive for ``customer_id``; the export itself is audited (what left, not its content)."""
    actor.require(Role.ADMIN)
    customer = await find_customer(session, customer_id)
    profile = {**customer_dict(customer), "erased_at": _plain(customer.erased_at)}
    holdings = await customer_holdings(session, customer_id)
    data = await asyncio.to_thread(build_archive, holdings, profile, now)
    record_change(session, actor, "customer.export", "customer", customer_id,
                  after={"tables": holdings.count(), "bytes": len(data)})
    return data
