"""Customer satisfaction: a customer rates their solved ticket good or bad, once.

The rating is kept with the agent and queue the ticket had when rated (the reports count it
there), goes on the ticket's timeline, and a bad one makes the ticket a complaint of the
``bad-rating`` category (``routing.complaints``) and tags it ``bad-rating``, so the team sees it in their complaint views and can follow it up. Only the
first rating counts: a second click (or a mail scanner opening the link again) changes nothing.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import Conflict, InvalidInput, NotFound
from core.records import EntryKind, Ticket, TicketStatus
from routing.complaints import ensure_bad_rating_category, set_complaint
from routing.desk import TicketDesk
from routing.records import TicketRating
from routing.tagging import add_tag

RATINGS = ("good", "bad")
BAD_RATING_TAG = "bad-rating"
COMMENT_CAP = 2_000


@dataclasses.dataclass(slots=True)
class Rated:
    rating: TicketRating
    new: bool  # False: the ticket was rated before, this one changed nothing


async def rating_of(session: AsyncSession, ticket_id: int) -> TicketRating | None:
    return (await session.execute(select(TicketRating).where(TicketRating.ticket_id == ticket_id))).scalar()


async def rate_ticket(desk: TicketDesk, session: AsyncSession, ticket_id: int, rating: str, comment: str = "") -> Rated:
    """Record the customer's rating of a solved (or closed) ticket; the first one only."""
    if rating not in RATINGS:
        raise InvalidInput("a rating is good or bad", {"field": "rating"})
    comment = comment.strip()
    if len(comment) > COMMENT_CAP:
        raise InvalidInput("the value is too long", {"field": "comment", "max": COMMENT_CAP})
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", {"id": ticket_id})
    earlier = await rating_of(session, ticket_id)
    if earlier is not None:
        return Rated(earlier, False)
    if ticket.status not in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value):
        raise Conflict("only a solved ticket can be rated", {"id": ticket_id})
    row = TicketRating(ticket_id=ticket.id, rating=rating, comment=comment, agent_id=ticket.assignee_id,
                       queue=ticket.queue, created_at=desk.clock.now())
    session.add(row)
    await session.flush()
    await desk.append(session, ticket, EntryKind.RATING, {"rating": rating, "comment": comment})
    if rating == "bad":  # a complaint of the "bad rating" category, as every complaint source writes it
        await set_complaint(desk, session, ticket, await ensure_bad_rating_category(session), "rating")
        await add_tag(desk, session, Actor.system(), ticket.id, BAD_RATING_TAG)
    return Rated(row, True)


async def add_comment(desk: TicketDesk, session: AsyncSession, ticket_id: int, comment: str) -> TicketRating:
    """The optional comment after the one-click rating (once; a later one replaces nothing),
    on the timeline with its rating."""
    comment = comment.strip()[:COMMENT_CAP]
    row = await rating_of(session, ticket_id)
    if row is None:
        raise NotFound("no such ticket", {"id": ticket_id})
    if comment and not row.comment:
        row.comment = comment
        await desk.append(session, ticket_id, EntryKind.RATING, {"rating": row.rating, "comment": comment})
    return row
