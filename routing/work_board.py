"""The assignment figures supervisors watch on the wallboard: per queue, the pushed tickets waiting
for an offer, offered and assigned (while still open); which agents are at capacity; and today's
offers — made, accepted, declined, missed — with the time offers took to be accepted.

Read from the database (the work items and offers every server process writes) and the
presence this process keeps, in a few grouped queries, so the wallboard can afford it every
couple of seconds whatever the number of tickets.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from core.measure import ratio
from core.records import OPEN_STATUSES, Ticket
from routing.assignment import Assignment
from routing.records import Offer, WorkItem


@dataclasses.dataclass(frozen=True, slots=True)
class QueueWork:
    queue: str
    waiting: int = 0
    offered: int = 0
    assigned: int = 0  # accepted from an offer, the ticket still open


@dataclasses.dataclass(frozen=True, slots=True)
class AgentLoad:
    user_id: int
    state: str  # ready, paused, on-call, wrap-up, offline
    used: int  # capacity units in use: open tickets by weight, open offers; a live call takes all
    capacity: int

    @property
    def at_capacity(self) -> bool:
        return self.state == "on-call" or self.used >= self.capacity


@dataclasses.dataclass(frozen=True, slots=True)
class OfferTally:
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    missed: int = 0
    open: int = 0  # not answered yet
    accept_s: float = 0.0  # offered → accepted, summed over the accepted

    @property
    def avg_accept_s(self) -> float | None:
        return ratio(self.accept_s, self.accepted)


@dataclasses.dataclass(frozen=True, slots=True)
class WorkFigures:
    queues: list[QueueWork]
    agents: list[AgentLoad]  # everyone signed in (not offline), most loaded first
    offers: OfferTally  # offers made since the start of the day

    @property
    def at_capacity(self) -> list[AgentLoad]:
        return [a for a in self.agents if a.at_capacity]


async def work_figures(session: AsyncSession, assignment: Assignment, since: datetime) -> WorkFigures:
    """Per queue waiting / offered / assigned, each signed-in agent's load, and the offers made since ``since``."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    stmt = (select(WorkItem.queue, WorkItem.state, func.count()).join(Ticket, Ticket.id == WorkItem.ticket_id)
            .where(WorkItem.state.in_(("waiting", "offered", "assigned")), Ticket.status.in_(OPEN_STATUSES))
            .group_by(WorkItem.queue, WorkItem.state))
    for queue, state, count in await session.execute(stmt):
        counts[queue][state] = int(count)
    queues = [QueueWork(q, c.get("waiting", 0), c.get("offered", 0), c.get("assigned", 0)) for q, c in sorted(counts.items())]

    states = {agent: state for agent, state in assignment.presence.states.items() if state != "offline"}
    used = await assignment.load(session, sorted(states)) if states else {}
    capacity = assignment.settings.agent_capacity
    agents = sorted((AgentLoad(agent, state, used.get(agent, 0), capacity) for agent, state in states.items()),
                    key=lambda a: (not a.at_capacity, -a.used, a.user_id))

    outcomes: dict[str | None, int] = {}
    for outcome, count in await session.execute(
            select(Offer.outcome, func.count()).where(Offer.offered_at >= since).group_by(Offer.outcome)):
        outcomes[outcome] = int(count)
    accept_s = 0.0
    for offered, answered in await session.execute(
            select(Offer.offered_at, Offer.answered_at).where(Offer.offered_at >= since, Offer.outcome == "accepted")):
        if answered is not None:
            accept_s += (as_utc(answered) - as_utc(offered)).total_seconds()
    offers = OfferTally(sum(outcomes.values()), outcomes.get("accepted", 0), outcomes.get("declined", 0),
                        outcomes.get("missed", 0), outcomes.get(None, 0), accept_s)
    return WorkFigures(queues, agents, offers)
