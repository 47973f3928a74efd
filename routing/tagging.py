"""An agent tags a ticket or takes a tag off: audited, on the timeline, announced live.

The tags themselves (their one spelling, reading them, a routing decision's tags) are
``routing.tags``, which the desk uses; these actions use the desk, so they live apart.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput
from core.events import TicketUpdated
from core.records import EntryKind, Ticket, TicketTag
from routing.desk import TicketDesk
from routing.tags import MAX_TAGS_PER_TICKET, tags_of, tidy_tag


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
