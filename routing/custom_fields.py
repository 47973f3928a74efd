"""Custom ticket fields: admins define them (text, number, choice, date); agents fill them in.

A value is validated by its field's kind and kept as canonical text (``core.records.TicketFieldValue``),
so the queue filters by it with one indexed comparison and the search index finds its words on
SQLite and PostgreSQL alike. Changing values on a ticket goes through the desk like any other
change: one timeline entry naming what changed, an audit row, a live event.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput, NotFound
from core.events import TicketUpdated
from core.records import CustomField, EntryKind, Role, TicketFieldValue
from routing.desk import TicketDesk

FIELD_KINDS = ("text", "number", "choice", "date")
MAX_FIELDS = 100
MAX_CHOICES = 200
MAX_TEXT = 1000
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclasses.dataclass(frozen=True, slots=True)
class FieldDraft:
    """What an admin sends to define or change a field."""

    key: str
    name: str
    kind: str
    choices: tuple[str, ...] = ()
    required: bool = False
    position: int = 0


def field_dict(field: CustomField) -> dict[str, Any]:
    return {"id": field.id, "key": field.key, "name": field.name, "kind": field.kind,
            "choices": list(field.choices or []), "required": field.required, "position": field.position}


def _manage(actor: Actor) -> None:
    """Defining fields changes every ticket page: an admin's (or ops') job."""
    actor.require(Role.ADMIN, Role.OPS)


def _clean_draft(draft: FieldDraft) -> FieldDraft:
    key = (draft.key or "").strip().lower()
    if not KEY_PATTERN.match(key):
        raise InvalidInput("a field key is a lower-case letter, then letters, digits or _ (at most 40)",
                           {"field": "key", "key": key})
    name = " ".join((draft.name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("a field needs a name of at most 100 characters", {"field": "name"})
    if draft.kind not in FIELD_KINDS:
        raise InvalidInput("unknown field type", {"field": "kind", "allowed": list(FIELD_KINDS)})
    choices: list[str] = []
    for choice in draft.choices:
        text = " ".join(str(choice).split())
        if text and text not in choices:
            if len(text) > 200:
                raise InvalidInput("a choice may have at most 200 characters", {"field": "choices"})
            choices.append(text)
    if draft.kind == "choice" and not choices:
        raise InvalidInput("a choice field needs at least one choice", {"field": "choices"})
    if len(choices) > MAX_CHOICES:
        raise InvalidInput("a choice field may have at most 200 choices", {"field": "choices"})
    return FieldDraft(key, name, draft.kind, tuple(choices) if draft.kind == "choice" else (), bool(draft.required),
                      int(draft.position))


async def list_fields(session: AsyncSession) -> list[CustomField]:
    """Every field, in the order admins gave them."""
    return list(await session.scalars(select(CustomField).order_by(CustomField.position, CustomField.id)))


async def define_field(session: AsyncSession, actor: Actor, draft: FieldDraft) -> CustomField:
    _manage(actor)
    clean = _clean_draft(draft)
    if await session.scalar(select(CustomField.id).where(CustomField.key == clean.key)) is not None:
        raise InvalidInput("a field with this key exists", {"field": "key", "key": clean.key})
    if (await session.scalar(select(func.count()).select_from(CustomField)) or 0) >= MAX_FIELDS:
        raise InvalidInput("at most 100 custom fields", {"field": "key"})
    field = CustomField(key=clean.key, name=clean.name, kind=clean.kind, choices=list(clean.choices),
                        required=clean.required, position=clean.position)
    session.add(field)
    await session.flush()
    record_change(session, actor, "custom_field.define", "custom_field", field.id, None, field_dict(field))
    return field


async def change_field(session: AsyncSession, actor: Actor, field_id: int, draft: FieldDraft) -> CustomField:
    """Rename it, change its choices or whether it is required. Its key and type stay: values
    already stored were validated against them."""
    _manage(actor)
    field = await session.get(CustomField, field_id)
    if field is None:
        raise NotFound("no such field", {"id": field_id})
    clean = _clean_draft(dataclasses.replace(draft, key=field.key, kind=field.kind))
    before = field_dict(field)
    field.name, field.choices, field.required, field.position = (clean.name, list(clean.choices), clean.required,
                                                                 clean.position)
    record_change(session, actor, "custom_field.change", "custom_field", field.id, before, field_dict(field))
    return field


async def delete_field(session: AsyncSession, actor: Actor, field_id: int) -> None:
    """Remove a field and every ticket's value for it."""
    _manage(actor)
    field = await session.get(CustomField, field_id)
    if field is None:
        raise NotFound("no such field", {"id": field_id})
    before = field_dict(field)
    # Row by row, not one DELETE: the search index (``core.search_index``) re-indexes the
    # tickets whose values a flush removes, so the old values stop finding them.
    rows = list(await session.scalars(select(TicketFieldValue).where(TicketFieldValue.field_id == field_id)))
    ticket_ids = [row.ticket_id for row in rows]
    for row in rows:
        await session.delete(row)
    await session.flush()
    await session.delete(field)
    record_change(session, actor, "custom_field.delete", "custom_field", field_id, before, {"tickets": len(ticket_ids)})


def canonical_value(field: CustomField, raw: Any) -> str | None:
    """The value as stored, or None for "no value"; ``InvalidInput`` naming the field otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise InvalidInput(f"{field.name} is required", {"field": field.key, "reason": "required"})
        return None
    if field.kind == "number":
        if isinstance(raw, bool):
            raise InvalidInput(f"{field.name} must be a number", {"field": field.key, "reason": "number"})
        try:
            number = float(str(raw).strip().replace(",", "")) if not isinstance(raw, int | float) else float(raw)
        except ValueError:
            raise InvalidInput(f"{field.name} must be a number", {"field": field.key, "reason": "number"}) from None
        if not math.isfinite(number) or abs(number) >= 1e15:
            raise InvalidInput(f"{field.name} must be a number", {"field": field.key, "reason": "number"})
        return str(int(number)) if number.is_integer() else repr(number)
    if not isinstance(raw, str | int | float):
        raise InvalidInput(f"{field.name} must be text", {"field": field.key, "reason": "text"})
    text = " ".join(str(raw).split())
    if field.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidInput(f"{field.name} must be a date (YYYY-MM-DD)", {"field": field.key, "reason": "date"}) from None
    if field.kind == "choice":
        if text not in (field.choices or []):
            raise InvalidInput(f"{field.name} must be one of its choices",
                               {"field": field.key, "reason": "choice", "allowed": list(field.choices or [])})
        return text
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{field.name} may have at most 1,000 characters", {"field": field.key, "reason": "length"})
    return text


async def field_values(session: AsyncSession, ticket_id: int) -> dict[str, str]:
    """The ticket's values by field key (fields without a value left out)."""
    stmt = (select(CustomField.key, TicketFieldValue.value)
            .join(TicketFieldValue, TicketFieldValue.field_id == CustomField.id)
            .where(TicketFieldValue.ticket_id == ticket_id))
    return {key: value for key, value in await session.execute(stmt)}


async def field_values_by_ticket(session: AsyncSession, ticket_ids: list[int]) -> dict[int, dict[str, str]]:
    """The values of many tickets in one query (a page of the API's list), by ticket id."""
    found: dict[int, dict[str, str]] = {}
    if ticket_ids:
        stmt = (select(TicketFieldValue.ticket_id, CustomField.key, TicketFieldValue.value)
                .join(CustomField, CustomField.id == TicketFieldValue.field_id)
                .where(TicketFieldValue.ticket_id.in_(ticket_ids)))
        for ticket_id, key, value in await session.execute(stmt):
            found.setdefault(ticket_id, {})[key] = value
    return found


class FieldErrors(InvalidInput):
    """Several fields refused at once: ``details["errors"]`` maps each key to its message and
    ``details["reasons"]`` to a stable reason, so the page shows every problem (translated)
    next to its field, and the API names them all."""


async def set_field_values(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int,
                           values: Mapping[str, Any]) -> dict[str, str]:
    """An agent sets some of a ticket's custom fields; its values after it. Every value is
    validated before anything is written; an unknown key is refused by name."""
    ticket = await desk.get(session, actor, ticket_id)
    fields = {f.key: f for f in await list_fields(session)}
    errors: dict[str, str] = {}
    reasons: dict[str, str] = {}  # required | number | date | choice | length | text | unknown
    clean: dict[str, str | None] = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            errors[key], reasons[key] = "unknown field", "unknown"
            continue
        try:
            clean[key] = canonical_value(field, raw)
        except InvalidInput as exc:
            errors[key], reasons[key] = exc.message, str(exc.details.get("reason", "text"))
    if errors:
        first = next(iter(errors))
        raise FieldErrors(f"{first}: {errors[first]}", {"field": first, "errors": errors, "reasons": reasons})
    before = await field_values(session, ticket.id)
    changes: list[dict[str, Any]] = [{"key": key, "name": fields[key].name, "from": before.get(key), "to": value}
                                     for key, value in clean.items() if before.get(key) != value]
    if not changes:
        return before
    for change in changes:
        field = fields[str(change["key"])]
        row = await session.get(TicketFieldValue, (ticket.id, field.id))
        if change["to"] is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(TicketFieldValue(ticket_id=ticket.id, field_id=field.id, value=change["to"]))
        else:
            row.value = change["to"]
    ticket.updated_at = desk.clock.now()
    await desk.append(session, ticket, EntryKind.FIELDS, {"changes": changes}, actor.user_id)
    after = {k: v for k, v in {**before, **clean}.items() if v is not None}
    record_change(session, actor, "ticket.fields", "ticket", ticket.id,
                  {c["key"]: c["from"] for c in changes}, {c["key"]: c["to"] for c in changes})
    desk.emit(session, TicketUpdated(ticket.id, ticket.queue, ("fields",), ticket.assignee_id))
    return after


__all__ = ["FIELD_KINDS", "FieldDraft", "FieldErrors", "canonical_value", "change_field", "define_field",
           "delete_field", "field_dict", "field_values", "field_values_by_ticket", "list_fields", "set_field_values"]
