"""Customer satisfaction (CSAT) for the reports: per agent and per queue, the share of good
ratings among the ratings given in the date range (``routing.ratings`` records them); and
today's ratings and complaints for the wallboard."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.measure import ratio
from core.records import Role, Ticket, User
from routing.records import TicketRating
from routing.reports import DateRange


@dataclasses.dataclass(slots=True)
class CsatRow:
    name: str  # the agent's name or the queue
    good: int = 0
    bad: int = 0

    @property
    def rated(self) -> int:
        return self.good + self.bad

    @property
    def csat(self) -> float | None:
        """Good ratings as a share of all ratings (0..1), None without ratings."""
        return ratio(self.good, self.rated)


@dataclasses.dataclass(slots=True)
class CsatReport:
    agents: list[CsatRow]
    queues: list[CsatRow]
    total: CsatRow


async def csat_report(session: AsyncSession, actor: Actor, span: DateRange) -> CsatReport:
    actor.require(Role.SUPERVISOR)
    in_span = (TicketRating.created_at >= span.since, TicketRating.created_at < span.until)
    names = {u.id: u.display_name for u in (await session.execute(select(User))).scalars()}
    agents: dict[str, CsatRow] = {}
    queues: dict[str, CsatRow] = {}
    total = CsatRow("")
    counted = select(TicketRating.agent_id, TicketRating.queue, TicketRating.rating, func.count()).where(
        *in_span).group_by(TicketRating.agent_id, TicketRating.queue, TicketRating.rating)
    for agent_id, queue, rating, count in await session.execute(counted):
        rows = [total, queues.setdefault(queue, CsatRow(queue))]
        if agent_id is not None and agent_id in names:
            rows.append(agents.setdefault(names[agent_id], CsatRow(names[agent_id])))
        for row in rows:
            if rating == "good":
                row.good += int(count)
            else:
                row.bad += int(count)
    return CsatReport(sorted(agents.values(), key=lambda r: r.name.lower()), sorted(queues.values(), key=lambda r: r.name), total)


@dataclasses.dataclass(frozen=True, slots=True)
class SatisfactionToday:
    """The wallboard's customer figures since the board's day started: ratings and new complaints."""

    good: int = 0
    bad: int = 0
    complaints: int = 0

    @property
    def csat(self) -> float | None:
        return ratio(self.good, self.good + self.bad)


async def satisfaction_today(session: AsyncSession, since: datetime) -> SatisfactionToday:
    """Two small counts over indexed columns (ratings' and complaints' times), for the wallboard."""
    counted = select(TicketRating.rating, func.count()).where(TicketRating.created_at >= since).group_by(TicketRating.rating)
    ratings = {rating: int(n) for rating, n in await session.execute(counted)}
    complaints = await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.complained_at >= since))
    return SatisfactionToday(ratings.get("good", 0), ratings.get("bad", 0), int(complaints or 0))
