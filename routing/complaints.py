"""Complaints from every channel, one model: a ticket carries one complaint category.

Four sources set it, each leaving a ``complaint`` entry on the timeline that names where it
came from: a routing rule's ``complaint_category`` action (``rule``), the category of the reply
template the matcher suggested for a mail when that category is a complaint category
(``template``), the agent's wrap-up of a call (``wrap-up``) and a bad customer rating
(``rating``, always the ``bad-rating`` category). Setting a category also makes the ticket's
category "complaint" and stamps ``complained_at`` once, which is the date the report counts.
A later source replaces the category (the entry keeps what it was); the date stays.

Admins keep the list of categories: a stable key the rules and templates name, and a
display name per language. A category in use is deactivated, never deleted, so old tickets
still read right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import Clock
from core.errors import InvalidInput
from core.events import DomainEvent, TicketUpdated
from core.records import Category, EntryKind, Role, Ticket, TimelineEntry
from routing.records import ComplaintCategory
from routing.rules import COMPLAINT_KEY


class TimelineWriter(Protocol):
    """What setting a complaint needs of the desk (``routing.desk.TicketDesk`` is one): the desk
    calls this module, so this module names only these three, not the desk."""

    clock: Clock

    async def append(self, session: AsyncSession, ticket: Ticket | int, kind: EntryKind | str,
                     payload: dict[str, Any], author_id: int | None = None, dedup_key: str | None = None,
                     flush: bool = True) -> TimelineEntry: ...

    def emit(self, session: AsyncSession, event: DomainEvent | Callable[[], DomainEvent]) -> None: ...

BAD_RATING_CATEGORY = "bad-rating"
SOURCES = ("rule", "template", "wrap-up", "rating", "agent")
LANGUAGES = ("en", "zh_CN", "es")
KEY_PATTERN = COMPLAINT_KEY
NAME_CAP = 80
MAX_CATEGORIES = 200
_TEMPLATE_NAMES = "frontdesk_complaint_names"  # session.info: what template categories name, read once


def tidy_key(value: object, field: str = "key") -> str:
    """A category key as rules, templates and URLs write it: lower-case letters, digits and dashes."""
    key = str(value or "").strip().lower()
    if not KEY_PATTERN.match(key):
        raise InvalidInput("a category key is 1 to 40 lower-case letters, digits or dashes", {"field": field})
    return key


def display_name(category: ComplaintCategory | None, key: str, language: str | None) -> str:
    """The category's name in ``language`` (else English, else its key)."""
    if category is None:
        return key
    names = category.names or {}
    wanted = (language or "en").replace("-", "_")
    return str(names.get(wanted) or names.get(wanted.split("_")[0]) or names.get("en") or key)


async def list_categories(session: AsyncSession, active_only: bool = False) -> list[ComplaintCategory]:
    stmt = select(ComplaintCategory).order_by(ComplaintCategory.position, ComplaintCategory.key)
    if active_only:
        stmt = stmt.where(ComplaintCategory.active.is_(True))
    return list(await session.scalars(stmt))


async def category_names(session: AsyncSession, language: str | None) -> dict[str, str]:
    """key → display name in ``language``, for every category (active or not)."""
    return {c.key: display_name(c, c.key, language) for c in await list_categories(session)}


async def save_category(session: AsyncSession, actor: Actor, key: str, names: Mapping[str, object],
                        active: bool = True) -> ComplaintCategory:
    """Add a category or rename / (de)activate one (admins). Every language needs a name."""
    actor.require(Role.ADMIN)
    key = tidy_key(key)
    clean: dict[str, str] = {}
    for language in LANGUAGES:
        name = " ".join(str(names.get(language) or "").split())
        if not name:
            raise InvalidInput("a category needs a name in every language", {"field": f"name_{language}"})
        if len(name) > NAME_CAP:
            raise InvalidInput("a name has at most 80 characters", {"field": f"name_{language}", "max": NAME_CAP})
        clean[language] = name
    row = (await session.scalars(select(ComplaintCategory).where(ComplaintCategory.key == key))).first()
    before = None if row is None else {"names": dict(row.names or {}), "active": row.active}
    if row is None:
        count = await session.scalar(select(func.count()).select_from(ComplaintCategory)) or 0
        if count >= MAX_CATEGORIES:
            raise InvalidInput("at most 200 complaint categories", {"field": "key"})
        row = ComplaintCategory(key=key, names=clean, active=active, position=int(count))
        session.add(row)
    else:
        row.names, row.active = clean, active
    await session.flush()
    session.info.pop(_TEMPLATE_NAMES, None)
    record_change(session, actor, "complaint_category.save", "complaint_category", key, before,
                  {"names": clean, "active": active})
    return row


async def known_category(session: AsyncSession, key: str) -> ComplaintCategory | None:
    return (await session.scalars(select(ComplaintCategory).where(ComplaintCategory.key == key))).first()


async def set_complaint(desk: TimelineWriter, session: AsyncSession, ticket: Ticket, key: str, source: str,
                        author_id: int | None = None, detail: dict[str, Any] | None = None,
                        flush: bool = True) -> bool:
    """Make ``ticket`` a complaint of category ``key`` (known to exist), on its timeline.

    False when the ticket already had that category (nothing written)."""
    if ticket.complaint_category == key:
        return False
    before = ticket.complaint_category
    ticket.complaint_category = key
    ticket.category = Category.COMPLAINT.value
    if ticket.complained_at is None:
        ticket.complained_at = desk.clock.now()
    payload: dict[str, Any] = {"category": key, "source": source, **(detail or {})}
    if before:
        payload["from"] = before
    await desk.append(session, ticket, EntryKind.COMPLAINT, payload, author_id=author_id, flush=flush)
    if ticket.id is not None:
        desk.emit(session, TicketUpdated(ticket.id, ticket.queue, ("category", "complaint_category"), ticket.assignee_id))
    return True


async def complaint_by_template(session: AsyncSession, template_category: str) -> str | None:
    """The active complaint category a reply template's category names (by key or by any of its
    names, without regard to case), or None when it names none. Read once per session: a batch
    import asks for each of its mails."""
    wanted = " ".join(str(template_category or "").split()).lower()
    if not wanted:
        return None
    names: dict[str, str] | None = session.info.get(_TEMPLATE_NAMES)
    if names is None:
        names = {}
        for category in reversed(await list_categories(session, active_only=True)):  # the first listed wins
            for name in (*(str(n).lower() for n in (category.names or {}).values()), category.key):
                names[name] = category.key
        session.info[_TEMPLATE_NAMES] = names
    return names.get(wanted)


async def require_active(session: AsyncSession, key: str, field: str = "category") -> str:
    key = tidy_key(key, field)
    category = await known_category(session, key)
    if category is None or not category.active:
        raise InvalidInput("unknown complaint category", {"field": field, "category": key})
    return key


async def ensure_bad_rating_category(session: AsyncSession) -> str:
    """The ``bad-rating`` category, put back if an install lost it (the rating must land somewhere)."""
    if await known_category(session, BAD_RATING_CATEGORY) is None:
        session.add(ComplaintCategory(key=BAD_RATING_CATEGORY, position=0, active=True,
                                      names={"en": "Bad rating", "zh_CN": "差评", "es": "Mala valoración"}))
        await session.flush()
    return BAD_RATING_CATEGORY
