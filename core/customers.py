"""The customer directory: one record per person, found by phone or email."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import Conflict, InvalidInput, NotFound
from core.phones import normalize_phone
from core.records import Customer, CustomerEmail, CustomerPhone, Role, Tier


@dataclasses.dataclass(slots=True)
class CustomerDraft:
    name: str = ""
    phones: list[str] = dataclasses.field(default_factory=list)
    emails: list[str] = dataclasses.field(default_factory=list)
    tier: str = Tier.STANDARD.value
    language: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    external_id: str | None = None
    notes: str = ""


def normalize_email(address: str) -> str:
    text = (address or "").strip().lower()
    if "@" not in text or text.startswith("@") or text.endswith("@") or len(text) > 320:
        raise InvalidInput("not an email address", {"value": address})
    return text


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "tier": customer.tier,
        "language": customer.language,
        "tags": list(customer.tags or []),
        "external_id": customer.external_id,
        "notes": customer.notes,
        "phones": [p.e164 for p in customer.phones],
        "emails": [e.address for e in customer.emails],
    }


async def find_by_phone(session: AsyncSession, e164: str) -> Customer | None:
    stmt = select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == e164)
    return (await session.execute(stmt)).scalars().first()


async def find_by_email(session: AsyncSession, address: str) -> Customer | None:
    stmt = (
        select(Customer)
        .join(CustomerEmail)
        .where(CustomerEmail.address == func.lower(address.strip()))
    )
    return (await session.execute(stmt)).scalars().first()


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer", {"id": customer_id})
    return customer


async def create_customer(
    session: AsyncSession, actor: Actor, draft: CustomerDraft, region: str = "US"
) -> Customer:
    """Validate everything first, so a bad phone number writes nothing."""
    actor.require(Role.AGENT, Role.OPS)
    if draft.tier not in {t.value for t in Tier}:
        raise InvalidInput("unknown tier", {"tier": draft.tier})
    phones = [normalize_phone(p, region) for p in draft.phones]
    emails = [normalize_email(e) for e in draft.emails]
    for e164 in phones:
        if await find_by_phone(session, e164):
            raise Conflict("another customer has this phone number", {"phone": e164})
    for address in emails:
        if await find_by_email(session, address):
            raise Conflict("another customer has this email address", {"email": address})
    customer = Customer(
        name=draft.name.strip(),
        tier=draft.tier,
        language=draft.language,
        tags=list(draft.tags),
        external_id=draft.external_id,
        notes=draft.notes,
        phones=[CustomerPhone(e164=p) for p in dict.fromkeys(phones)],
        emails=[CustomerEmail(address=a) for a in dict.fromkeys(emails)],
    )
    session.add(customer)
    await session.flush()
    record_change(session, actor, "customer.create", "customer", customer.id, None, customer_dict(customer))
    return customer
