"""The agent's wrap-up of a call: what came of it (an outcome), a note, and — when the caller
complained — the complaint category and the product it was about.

Asked in the console once a call ends; kept on the call's ticket timeline (``wrap_up``
entry), so it reads beside the call. A complaint category makes the ticket a complaint
(``routing.complaints``), a product becomes a ``product:`` tag, which the complaint report
groups by. Only the agent who took the call (or a supervisor) wraps it up, once.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import TicketUpdated
from core.records import EntryKind, Role, Ticket, TimelineEntry
from cti.records import CallRecord
from routing.complaints import require_active, set_complaint
from routing.desk import TicketDesk
from routing.tagging import add_tag

OUTCOMES = ("resolved", "follow-up", "escalated", "information")
PRODUCT_TAG_PREFIX = "product:"
NOTE_CAP = 2_000
PRODUCT_CAP = 60


@dataclasses.dataclass(frozen=True, slots=True)
class WrapUp:
    outcome: str
    category: str = ""  # a complaint category key, or "" when the call was no complaint
    note: str = ""
    product: str = ""


def product_tag(product: str) -> str:
    """The ticket tag a product is kept as (``product:router x2``)."""
    return PRODUCT_TAG_PREFIX + " ".join(product.split()).lower()


async def wrap_up_call(desk: TicketDesk, session: AsyncSession, actor: Actor, linkedid: str,
                       wrap: WrapUp) -> TimelineEntry:
    """Record the wrap-up of the call ``linkedid`` on its ticket; refused with the field named."""
    actor.require(Role.AGENT, Role.SUPERVISOR)
    if wrap.outcome not in OUTCOMES:
        raise InvalidInput("choose what came of the call", {"field": "outcome", "allowed": list(OUTCOMES)})
    note = wrap.note.strip()
    if len(note) > NOTE_CAP:
        raise InvalidInput("a note may have at most 2,000 characters", {"field": "note", "max": NOTE_CAP})
    product = " ".join(wrap.product.split())
    if len(product) > PRODUCT_CAP:
        raise InvalidInput("a product name has at most 60 characters", {"field": "product", "max": PRODUCT_CAP})
    category = await require_active(session, wrap.category) if wrap.category.strip() else ""
    call = (await session.scalars(select(CallRecord).where(CallRecord.linkedid == linkedid[:80])
                                  .order_by(CallRecord.id.desc()).limit(1))).first()
    if call is None:
        raise NotFound("no such call", {"linkedid": linkedid[:80]})
    if call.agent_id != actor.user_id and not actor.has(Role.SUPERVISOR):
        raise Forbidden("only the agent who took the call wraps it up")
    if call.ended_at is None:
        raise Conflict("the call is still going on", {"linkedid": call.linkedid})
    if call.ticket_id is None:
        raise Conflict("the call is not on a ticket yet: try again in a moment", {"linkedid": call.linkedid})
    ticket = await session.get(Ticket, call.ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", {"id": call.ticket_id})
    dedup_key = f"wrap-up:{call.pbx}:{call.linkedid}"[:300]
    done = await session.scalar(select(TimelineEntry.id).where(TimelineEntry.ticket_id == ticket.id,
                                                              TimelineEntry.dedup_key == dedup_key))
    if done is not None:
        raise Conflict("this call is already wrapped up", {"linkedid": call.linkedid})
    payload = {"call": call.linkedid, "number": call.number, "outcome": wrap.outcome, "category": category,
               "note": note, "product": product}
    ticket.updated_at = desk.clock.now()
    entry = await desk.append(session, ticket, EntryKind.WRAP_UP, payload, author_id=actor.user_id, dedup_key=dedup_key)
    if category:
        await set_complaint(desk, session, ticket, category, "wrap-up", author_id=actor.user_id,
                            detail={"call": call.linkedid})
    if product:
        await add_tag(desk, session, actor if actor.has(Role.AGENT) else Actor.system(), ticket.id, product_tag(product))
    record_change(session, actor, "call.wrap_up", "ticket", ticket.id, None, payload)
    desk.emit(session, TicketUpdated(ticket.id, ticket.queue, ("timeline",), ticket.assignee_id))
    return entry
