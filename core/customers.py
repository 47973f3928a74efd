"""The customer directory: one record per person, found by phone or email.

Creating and editing validate everything before writing, and a refused value names its field
(``details["field"]``), so a form can point at it. A customer merged into another
(``merged_into_id``) keeps its record but none of its phones or emails: lookups by number or
address land on the survivor, and lists leave it out.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import utcnow
from core.customer_attributes import check_attributes, merged_attributes
from core.errors import Conflict, InvalidInput, NotFound
from core.phones import normalize_phone, try_normalize_phone
from core.records import Customer, CustomerEmail, CustomerPhone, Role, Tier
from core.tiering import clear_override, recompute, set_override


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
    tier_reason: str = ""
    tier_override: str | None = None  # a person's tier: wins over the tier rules
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)  # from the CRM


# One "@", something before it, a dotted domain after it, no spaces or angle brackets: enough to
# refuse typing mistakes ("ana.example.com", "ana@example") without rejecting real addresses.
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+")


def normalize_email(address: str, field: str = "emails") -> str:
    text = (address or "").strip().lower()
    if len(text) > 320 or not _EMAIL.fullmatch(text):
        raise InvalidInput("not an email address", {"field": field, "value": address})
    return text


TIER_REASON_CAP = 200  # the column's length
_PHONE_TYPED = re.compile(r"[\d\s+().-]+")


def normalize_customer_phone(raw: str, region: str, field: str = "phones") -> str:
    """E.164, or an ``InvalidInput`` that names the field the number came from."""
    try:
        return normalize_phone(raw, region)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, {**exc.details, "field": field}) from None


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "tier": customer.tier,
        "language": customer.language,
        "tags": list(customer.tags or []),
        "external_id": customer.external_id,
        "notes": customer.notes,
        "tier_reason": customer.tier_reason or "",
        "tier_override": customer.tier_override,
        "attributes": dict(customer.attributes or {}),
        "merged_into_id": customer.merged_into_id,
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
    session: AsyncSession, actor: Actor, draft: CustomerDraft, region: str = "US", now: datetime | None = None
) -> Customer:
    """Validate everything first, so a bad phone number writes nothing. Without an override
    the tier rules (when there are any) give the tier at once."""
    actor.require(Role.AGENT, Role.OPS)
    if draft.tier not in {t.value for t in Tier}:
        raise InvalidInput("unknown tier", {"field": "tier", "tier": draft.tier})
    if draft.tier_override is not None and draft.tier_override not in {t.value for t in Tier}:
        raise InvalidInput("unknown tier", {"field": "tier_override", "tier": draft.tier_override})
    attributes = check_attributes(draft.attributes)
    if len(draft.tier_reason) > TIER_REASON_CAP:
        raise InvalidInput("the value is too long", {"field": "tier_reason"})
    phones = [normalize_customer_phone(p, region) for p in draft.phones if p.strip()]
    emails = [normalize_email(e) for e in draft.emails if e.strip()]
    for e164 in phones:
        if await find_by_phone(session, e164):
            raise Conflict("another customer has this phone number", {"field": "phones", "phone": e164})
    for address in emails:
        if await find_by_email(session, address):
            raise Conflict("another customer has this email address", {"field": "emails", "email": address})
    customer = Customer(
        name=draft.name.strip(),
        tier=draft.tier_override or draft.tier,
        tier_override=draft.tier_override,
        attributes=attributes,
        language=draft.language,
        tags=list(draft.tags),
        external_id=draft.external_id,
        notes=draft.notes,
        tier_reason=draft.tier_reason.strip(),
        phones=[CustomerPhone(e164=p) for p in dict.fromkeys(phones)],
        emails=[CustomerEmail(address=a) for a in dict.fromkeys(emails)],
    )
    session.add(customer)
    await session.flush()
    await recompute(session, [customer.id], now or utcnow())
    record_change(session, actor, "customer.create", "customer", customer.id, None, customer_dict(customer))
    return customer


async def read_customer(session: AsyncSession, actor: Actor, customer_id: int) -> Customer:
    actor.require(Role.AGENT, Role.OPS)
    return await get_customer(session, customer_id)


async def search_customers(
    session: AsyncSession, actor: Actor, text: str, limit: int = 20
) -> list[Customer]:
    """Customers whose name, phone number or email address contains ``text`` (merged ones left
    out: their numbers and addresses now belong to the survivor). A number typed in any format
    also finds its E.164 form."""
    actor.require(Role.AGENT, Role.OPS)
    return await list_customers(session, actor, text, limit=limit)


async def list_customers(
    session: AsyncSession, actor: Actor, text: str = "", *, limit: int = 50, offset: int = 0, region: str = "US"
) -> list[Customer]:
    """One page of the directory, by name; ``text`` narrows it as ``search_customers`` does."""
    actor.require(Role.AGENT, Role.OPS)
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))
    wanted = text.strip().lower()
    if wanted:
        like = f"%{_escape_like(wanted)}%"
        matches = [
            func.lower(Customer.name).like(like, escape="\\"),
            Customer.id.in_(select(CustomerPhone.customer_id).where(CustomerPhone.e164.like(like, escape="\\"))),
            Customer.id.in_(select(CustomerEmail.customer_id).where(CustomerEmail.address.like(like, escape="\\"))),
        ]
        digits = "".join(ch for ch in wanted if ch.isdigit())
        looks_like_a_number = _PHONE_TYPED.fullmatch(wanted) is not None
        if looks_like_a_number and len(digits) >= 3 and digits != wanted:  # "612 34 56" finds +34612345678
            matches.append(Customer.id.in_(select(CustomerPhone.customer_id).where(CustomerPhone.e164.like(f"%{digits}%"))))
        e164 = try_normalize_phone(wanted, region) if looks_like_a_number else None
        if e164:
            matches.append(Customer.id.in_(select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164)))
        stmt = stmt.where(or_(*matches))
    stmt = stmt.order_by(func.lower(Customer.name), Customer.id).offset(max(offset, 0)).limit(min(max(limit, 1), 200))
    return list((await session.execute(stmt)).scalars().unique())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def add_contact(
    session: AsyncSession, actor: Actor, customer_id: int, *, phone: str = "", email: str = "", region: str = "US"
) -> Customer:
    """Give a customer one more number or address (the pop's "link to existing customer")."""
    customer = await get_customer(session, customer_id)
    changes: dict[str, Any] = {}
    if phone.strip():
        changes["phones"] = [*(p.e164 for p in customer.phones), phone]
    if email.strip():
        changes["emails"] = [*(e.address for e in customer.emails), email]
    if not changes:
        raise InvalidInput("give a phone number or an email address", {"field": "phones"})
    return await update_customer(session, actor, customer_id, changes, region)


_SIMPLE_FIELDS = ("name", "language", "tags", "external_id", "notes", "tier_reason")
# "tier" (as the API has always taken it) and "tier_override" set a person's tier, which wins
# over the tier rules; "tier_override": null clears it. "attributes" are merged (null removes one).
_TIER_FIELDS = ("tier", "tier_override", "attributes")


async def update_customer(
    session: AsyncSession,
    actor: Actor,
    customer_id: int,
    changes: dict[str, Any],
    region: str = "US",
    now: datetime | None = None,
) -> Customer:
    """Change a customer; phones/emails replace the lists. Everything is validated before writing."""
    actor.require(Role.AGENT, Role.OPS)
    customer = await get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict("this customer was merged into another; change that one", {"into": customer.merged_into_id})
    unknown = sorted(set(changes) - {*_SIMPLE_FIELDS, *_TIER_FIELDS, "phones", "emails"})
    if unknown:
        raise InvalidInput("these fields cannot be changed", {"fields": unknown})
    for key in ("tier", "tier_override"):
        if changes.get(key) not in (None, "") and changes[key] not in {t.value for t in Tier}:
            raise InvalidInput("unknown tier", {"field": key, "tier": changes[key]})
    attributes = None
    if "attributes" in changes:
        attributes = merged_attributes(dict(customer.attributes or {}),
                                       check_attributes(changes["attributes"], allow_null=True))
    if "tags" in changes and not (
        isinstance(changes["tags"], list) and all(isinstance(t, str) for t in changes["tags"])
    ):
        raise InvalidInput("tags must be a list of strings")
    for key in ("name", "notes", "tier_reason"):
        if key in changes and not isinstance(changes[key], str):
            raise InvalidInput(f"{key} must be a string")
    if len(changes.get("tier_reason") or "") > TIER_REASON_CAP:
        raise InvalidInput("the value is too long", {"field": "tier_reason"})
    phones = emails = None
    if "phones" in changes:
        phones = list(dict.fromkeys(
            normalize_customer_phone(p, region) for p in _strings(changes["phones"], "phones") if p.strip()))
        for e164 in phones:
            other = await find_by_phone(session, e164)
            if other is not None and other.id != customer.id:
                raise Conflict("another customer has this phone number", {"field": "phones", "phone": e164})
    if "emails" in changes:
        emails = list(dict.fromkeys(normalize_email(e) for e in _strings(changes["emails"], "emails") if e.strip()))
        for address in emails:
            other = await find_by_email(session, address)
            if other is not None and other.id != customer.id:
                raise Conflict("another customer has this email address", {"field": "emails", "email": address})
    before = customer_dict(customer)
    for key in _SIMPLE_FIELDS:
        if key in changes:
            value = changes[key]
            setattr(customer, key, value.strip() if key in ("name", "tier_reason") else value)
    if phones is not None:
        kept = {p.e164: p for p in customer.phones}
        customer.phones = [kept.get(p) or CustomerPhone(e164=p) for p in phones]
    if emails is not None:
        kept_emails = {e.address: e for e in customer.emails}
        customer.emails = [kept_emails.get(a) or CustomerEmail(address=a) for a in emails]
    moment = now or utcnow()
    wanted = changes["tier_override"] if "tier_override" in changes else changes.get("tier")
    reason = changes.get("tier_reason", customer.tier_reason if customer.tier_override else "")
    if "tier_override" in changes and not wanted:
        await clear_override(session, actor, customer, moment)
    elif wanted and (wanted != customer.tier or customer.tier_override is not None):
        await set_override(session, actor, customer, wanted, reason or "")
    if attributes is not None and attributes != (customer.attributes or {}):
        customer.attributes = attributes
        await session.flush()
        await recompute(session, [customer.id], moment)
    await session.flush()
    record_change(session, actor, "customer.update", "customer", customer.id, before, customer_dict(customer))
    return customer


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{field} must be a list of strings")
    return value
