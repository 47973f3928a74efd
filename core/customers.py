"""The customer directory: one record per person, found by phone or email."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Select, func, or_, select
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


def by_phone(e164: str) -> Select[Customer]:
    """The customer one of whose numbers is ``e164``."""
    return select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == e164)


async def find_by_phone(session: AsyncSession, e164: str) -> Customer | None:
    return (await session.execute(by_phone(e164))).scalars().first()


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


async def read_customer(session: AsyncSession, actor: Actor, customer_id: int) -> Customer:
    actor.require(Role.AGENT, Role.OPS)
    return await get_customer(session, customer_id)


async def search_customers(
    session: AsyncSession, actor: Actor, text: str, limit: int = 20
) -> list[Customer]:
    """Customers whose name, phone number or email address contains ``text``."""
    actor.require(Role.AGENT, Role.OPS)
    like = f"%{text.strip().lower()}%"
    stmt = (
        select(Customer)
        .outerjoin(CustomerPhone)
        .outerjoin(CustomerEmail)
        .where(
            or_(
                func.lower(Customer.name).like(like),
                CustomerPhone.e164.like(like),
                CustomerEmail.address.like(like),
            )
        )
        .order_by(Customer.name, Customer.id)
        .limit(min(max(limit, 1), 200))
    )
    return list((await session.execute(stmt)).scalars().unique())


_SIMPLE_FIELDS = ("name", "tier", "language", "tags", "external_id", "notes")


async def update_customer(
    session: AsyncSession,
    actor: Actor,
    customer_id: int,
    changes: dict[str, Any],
    region: str = "US",
) -> Customer:
    """Change a customer; phones/emails replace the lists. Everything is validated before writing."""
    actor.require(Role.AGENT, Role.OPS)
    customer = await get_customer(session, customer_id)
    unknown = sorted(set(changes) - {*_SIMPLE_FIELDS, "phones", "emails"})
    if unknown:
        raise InvalidInput("these fields cannot be changed", {"fields": unknown})
    if "tier" in changes and changes["tier"] not in {t.value for t in Tier}:
        raise InvalidInput("unknown tier", {"tier": changes["tier"]})
    if "tags" in changes and not (
        isinstance(changes["tags"], list) and all(isinstance(t, str) for t in changes["tags"])
    ):
        raise InvalidInput("tags must be a list of strings")
    for key in ("name", "notes"):
        if key in changes and not isinstance(changes[key], str):
            raise InvalidInput(f"{key} must be a string")
    phones = emails = None
    if "phones" in changes:
        phones = list(dict.fromkeys(normalize_phone(p, region) for p in _strings(changes["phones"], "phones")))
        for e164 in phones:
            other = await find_by_phone(session, e164)
            if other is not None and other.id != customer.id:
                raise Conflict("another customer has this phone number", {"phone": e164})
    if "emails" in changes:
        emails = list(dict.fromkeys(normalize_email(e) for e in _strings(changes["emails"], "emails")))
        for address in emails:
            other = await find_by_email(session, address)
            if other is not None and other.id != customer.id:
                raise Conflict("another customer has this email address", {"email": address})
    before = customer_dict(customer)
    for key in _SIMPLE_FIELDS:
        if key in changes:
            value = changes[key]
            setattr(customer, key, value.strip() if key == "name" else value)
    if phones is not None:
        kept = {p.e164: p for p in customer.phones}
        customer.phones = [kept.get(p) or CustomerPhone(e164=p) for p in phones]
    if emails is not None:
        kept_emails = {e.address: e for e in customer.emails}
        customer.emails = [kept_emails.get(a) or CustomerEmail(address=a) for a in emails]
    await session.flush()
    record_change(session, actor, "customer.update", "customer", customer.id, before, customer_dict(customer))
    return customer


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{field} must be a list of strings")
    return value
