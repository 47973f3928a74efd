"""Customer updates from the company's CRM, keyed by the CRM's own id (``external_id``).

``PUT`` semantics (``replace=True``): the attributes become exactly what was sent; ``PATCH``
merges them (a null removes one). Either creates the customer when no one has that CRM id.
A tier sent as ``tier_override`` is a person's tier (it wins over the tier rules; null
clears it); attributes sent are tested by the tier rules at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.customer_attributes import check_attributes
from core.customers import CustomerDraft, create_customer, update_customer
from core.errors import InvalidInput
from core.records import Customer, Role

FIELDS = ("name", "phones", "emails", "language", "tags", "notes", "attributes", "tier_override", "tier_reason")
_EXTERNAL_ID = re.compile(r"[^\x00-\x1f\x7f/]{1,100}")


def check_external_id(value: str) -> str:
    text = value.strip()
    if not _EXTERNAL_ID.fullmatch(text):
        raise InvalidInput("a CRM id is 1 to 100 characters, no slashes or control characters",
                           {"field": "external_id"})
    return text


async def find_by_external_id(session: AsyncSession, external_id: str) -> Customer | None:
    return (await session.execute(
        select(Customer).where(Customer.external_id == external_id, Customer.merged_into_id.is_(None))
        .order_by(Customer.id).limit(1))).scalars().first()


async def sync_customer(session: AsyncSession, actor: Actor, external_id: str, data: dict[str, Any], *,
                        replace: bool, region: str = "US", now: datetime | None = None) -> tuple[Customer, bool]:
    """Create or update the customer with this CRM id; returns it and whether it is new.
    ``data`` holds only ``FIELDS`` with their types already checked (the web edge does that)."""
    actor.require(Role.AGENT, Role.OPS)
    external_id = check_external_id(external_id)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput("these fields cannot be set", {"field": unknown[0], "fields": unknown})
    attributes = check_attributes(data["attributes"], allow_null=True) if "attributes" in data else None
    existing = await find_by_external_id(session, external_id)
    if existing is None:
        draft = CustomerDraft(
            name=data.get("name") or "", phones=data.get("phones") or [], emails=data.get("emails") or [],
            language=data.get("language"), tags=data.get("tags") or [], notes=data.get("notes") or "",
            external_id=external_id, tier_override=data.get("tier_override"),
            tier_reason=data.get("tier_reason") or "",
            attributes={k: v for k, v in (attributes or {}).items() if v is not None})
        return await create_customer(session, actor, draft, region, now), True
    changes = {k: data[k] for k in FIELDS if k in data and k != "attributes"}
    if attributes is not None:
        dropped = {k: None for k in existing.attributes or {} if k not in attributes} if replace else {}
        changes["attributes"] = {**dropped, **attributes}
    return await update_customer(session, actor, existing.id, changes, region, now), False
