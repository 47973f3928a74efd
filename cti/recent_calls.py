"""An agent's recent calls: the calls their phone rang for, they took or they placed, each
with what came of it *for them*, read from the call records (so a missed pop outlives the
page and the server).

The outcome is decided here, as a code the console words: ``answered-by-me``,
``answered-by-colleague`` (with who), ``transferred`` (I took it and handed it on),
``missed`` (it rang for me, nobody of ours took it and the caller did not give up first, or
it is still waiting), ``abandoned`` (the caller hung up before anyone answered), and for
calls I placed ``called`` or ``not-reached``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import Customer, Ticket, User
from cti.records import CallOffer, CallRecord, CallSegment

RECENT_LIMIT = 15


@dataclasses.dataclass(frozen=True, slots=True)
class RecentCall:
    pbx: str
    linkedid: str
    direction: str
    number: str  # E.164 when the PBX gave a usable number: what call-back dials
    caller: str  # the customer's or the caller's name, "" when neither is known
    at: datetime
    outcome: str
    colleague: str | None  # who answered, for answered-by-colleague
    ticket_id: int | None
    ticket_tag: str | None
    live: bool


def outcome_for(user_id: int, record: CallRecord, segment_agents: list[int | None]) -> str:
    """What the call was for ``user_id`` (see the module docstring)."""
    if record.direction == "outbound" and record.agent_id == user_id and user_id not in segment_agents[1:]:
        return "called" if record.answered_at is not None else "not-reached"
    if record.answered_at is None:
        return "abandoned" if record.outcome == "abandoned" else "missed"
    if user_id in segment_agents:
        last = len(segment_agents) - 1 - segment_agents[::-1].index(user_id)
        return "transferred" if last < len(segment_agents) - 1 else "answered-by-me"
    if record.agent_id == user_id:
        return "answered-by-me"
    return "answered-by-colleague"


async def recent_calls(session: AsyncSession, user_id: int, limit: int = RECENT_LIMIT) -> list[RecentCall]:
    """The newest first: one indexed look-up for the calls offered to the agent, one for theirs."""
    offered = select(CallOffer.call_id).where(CallOffer.user_id == user_id)
    taken = select(CallSegment.call_id).where(CallSegment.agent_id == user_id)
    stmt = (
        select(CallRecord, Customer.name, Ticket)
        .outerjoin(Customer, Customer.id == CallRecord.customer_id)
        .outerjoin(Ticket, Ticket.id == CallRecord.ticket_id)
        .where(or_(CallRecord.agent_id == user_id, CallRecord.id.in_(offered), CallRecord.id.in_(taken)))
        .order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).unique().all()
    ids = [record.id for record, _name, _ticket in rows]
    agents_of: dict[int, list[int | None]] = {i: [] for i in ids}
    if ids:
        segments = select(CallSegment.call_id, CallSegment.agent_id).where(CallSegment.call_id.in_(ids)).order_by(
            CallSegment.call_id, CallSegment.position)
        for call_id, agent_id in (await session.execute(segments)).all():
            agents_of[call_id].append(agent_id)
    names = await _names(session, {r.agent_id for r, _n, _t in rows} | {a for v in agents_of.values() for a in v})
    out = []
    for record, customer_name, ticket in rows:
        agents = agents_of[record.id] or ([record.agent_id] if record.agent_id is not None else [])
        outcome = outcome_for(user_id, record, agents)
        colleague = next((a for a in reversed(agents) if a is not None and a != user_id), record.agent_id)
        out.append(RecentCall(
            pbx=record.pbx, linkedid=record.linkedid, direction=record.direction, number=record.number,
            caller=customer_name or _name_only(record.caller_name, record.number), at=record.started_at, outcome=outcome,
            colleague=names.get(colleague) if outcome == "answered-by-colleague" and colleague is not None else None,
            ticket_id=record.ticket_id, ticket_tag=ticket.tag if ticket is not None else None,
            live=record.ended_at is None,
        ))
    return out


def _name_only(caller_name: str, number: str) -> str:
    """The caller ID's name, unless it is only the number again (many PBXes fill it so)."""
    digits = "".join(ch for ch in caller_name if ch.isdigit())
    if not caller_name.strip() or (digits and digits == "".join(ch for ch in number if ch.isdigit())):
        return ""
    return caller_name.strip()


async def _names(session: AsyncSession, user_ids: set[int | None]) -> dict[int, str]:
    wanted = [u for u in user_ids if u is not None]
    if not wanted:
        return {}
    rows = (await session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))).all()
    return {user_id: name for user_id, name in rows}
