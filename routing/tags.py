"""Tags on tickets: put there by a routing rule's ``tags`` action, added and removed by agents.

Tags live in their own table (``core.records.TicketTag``) so the queue and search filter by
one with an index lookup. A tag is tidied the same way wherever it comes from (a rule, the
console, the API) — spaces collapsed, lower case — so "Refund " and "refund" are one tag.
An agent's change goes through the desk like any other: on the timeline, audited, live.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput
from core.events import TicketUpdated
from core.records import EntryKind, Ticket, TicketTag

if TYPE_CHECKING:  # the desk puts a routing decision's tags on through ``tag_routed``
    from routing.desk import TicketDesk

MAX_TAG_LENGTH = 80
MAX_TAGS_PER_TICKET = 50


def tidy_tag(text: str) -> str:
    """The one spelling of a tag: spaces collapsed, lower case; refused when empty or too long."""
    tag = " ".join(str(text).split()).lower()
    if not tag:
        raise InvalidInput("a tag needs some text", {"field": "tag"})
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidInput("a tag may have at most 80 characters", {"field": "tag", "max": MAX_TAG_LENGTH})
    return tag


async def tags_of(session: AsyncSession, ticket_id: int) -> list[str]:
    """The ticket's tags, in alphabetical order."""
    return sorted(await session.scalars(select(TicketTag.tag).where(TicketTag.ticket_id == ticket_id)))


async def tags_by_ticket(session: AsyncSession, ticket_ids: Iterable[int]) -> dict[int, list[str]]:
    """The tags of many tickets in one query (a queue page's rows), each ticket's in alphabetical order."""
    ids = list(ticket_ids)
    found: dict[int, list[str]] = {}
    if ids:
        stmt = select(TicketTag.ticket_id, TicketTag.tag).where(TicketTag.ticket_id.in_(ids)).order_by(TicketTag.tag)
        for ticket_id, tag in await session.execute(stmt):
            found.setdefault(ticket_id, []).append(tag)
    return found


async def tag_routed(session: AsyncSession, ticket: Ticket, tags: Iterable[str], created: bool, now: datetime) -> list[str]:
    """Put a routing decision's tags on its ticket (a new one, maybe not flushed yet, or one it joined).

    Returns the tags that were not there before. No timeline entry of its own: the routing
    explanation on the contact's entry already names the rule that tagged it."""
    wanted = sorted({tidy_tag(t) for t in tags})
    if not wanted:
        return []
    have: set[str] = set() if created else set(await tags_of(session, ticket.id))
    added = [t for t in wanted if t not in have]
    for tag in added:
        session.add(TicketTag(ticket=ticket, tag=tag, created_at=now))
    return added


async def add_tag(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int, text: str) -> list[str]:
    """An agent tags a ticket; the ticket's tags after it. Adding a tag it has changes nothing."""
    tag = tidy_tag(text)
    ticket = await desk.get(session, actor, ticket_id)
    tags = await tags_of(session, ticket.id)
    if tag in tags:
        return tags
    if len(tags) >= MAX_TAGS_PER_TICKET:
        raise InvalidInput("a ticket may have at most 50 tags", {"field": "tag", "max": MAX_TAGS_PER_TICKET})
    session.add(TicketTag(ticket_id=ticket.id, tag=tag, created_at=desk.clock.now()))
    await _changed(desk, session, actor, ticket, tags, {"added": [tag]})
    return sorted([*tags, tag])


async def remove_tag(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int, text: str) -> list[str]:
    """An agent takes a tag off a ticket; the ticket's tags after it. Removing one it lacks changes nothing."""
    tag = tidy_tag(text)
    ticket = await desk.get(session, actor, ticket_id)
    tags = await tags_of(session, ticket.id)
    if tag not in tags:
        return tags
    row = await session.get(TicketTag, (ticket.id, tag))
    if row is not None:
        await session.delete(row)
    await _changed(desk, session, actor, ticket, tags, {"removed": [tag]})
    return [t for t in tags if t != tag]


async def _changed(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket: Ticket, before: list[str],
                   change: dict[str, list[str]]) -> None:
    ticket.updated_at = desk.clock.now()
    await desk.append(session, ticket, EntryKind.TAGS, change, actor.user_id)
    after = sorted((set(before) | set(change.get("added", []))) - set(change.get("removed", [])))
    record_change(session, actor, "ticket.tags", "ticket", ticket.id, {"tags": before}, {"tags": after})
    desk.emit(session, TicketUpdated(ticket.id, ticket.queue, ("tags",), ticket.assignee_id))
