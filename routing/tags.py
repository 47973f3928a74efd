"""Tags on tickets: put there by a routing rule's ``tags`` action, added and removed by agents.

Tags live in their own table (``core.records.TicketTag``) so the queue and search filter by
one with an index lookup. A tag is tidied the same way wherever it comes from (a rule, the
console, the API) — spaces collapsed, lower case — so "Refund " and "refund" are one tag.
An agent's change goes through the desk like any other (``routing.tagging``): on the
timeline, audited, live; this module does not know the desk, which uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.records import Ticket, TicketTag

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
