"""The email backlog and today's alerts, as the wallboard and reports count them.

Read from the tickets' own SLA state (``sla_state``, kept by ``SlaClock``), the fired
escalations and the outbox, never from a separate counter, so the numbers always agree
with the ticket pages:

* open: email tickets not solved or closed; unanswered: no first response yet
* at risk: a running SLA target whose first ladder level (the warning) has fired and whose
  deadline has not passed; breached: a running target past its deadline
* alerts fired: escalations fired since the start of the day; failed deliveries: outbox
  messages given up on since then
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.records import Escalation
from core.clock import as_utc
from core.records import (
    OPEN_STATUSES,
    Channel,
    EntryKind,
    OutboxMessage,
    OutboxStatus,
    Ticket,
    TimelineEntry,
)

PAUSED = "pending-customer"


@dataclasses.dataclass(slots=True)
class BacklogFigures:
    queue: str | None  # None: all queues
    open: int = 0
    unanswered: int = 0
    at_risk: int = 0
    breached: int = 0
    oldest_unanswered_at: datetime | None = None

    def add(self, ticket: SlaTicket, now: datetime) -> None:
        self.open += 1
        if ticket.first_response_at is None:
            self.unanswered += 1
            if self.oldest_unanswered_at is None or ticket.created_at < self.oldest_unanswered_at:
                self.oldest_unanswered_at = ticket.created_at
        risk = sla_risk(ticket.sla_state, ticket.status, now)
        self.at_risk += risk == "at-risk"
        self.breached += risk == "breached"


@dataclasses.dataclass(frozen=True, slots=True)
class SlaTicket:
    id: int
    queue: str
    status: str
    created_at: datetime
    first_response_at: datetime | None
    sla_state: dict[str, object]


@dataclasses.dataclass(frozen=True, slots=True)
class AlertFigures:
    fired: int
    breaches: int
    failed_deliveries: int


def sla_risk(sla_state: dict[str, object] | None, status: str, now: datetime) -> str | None:
    """``breached``, ``at-risk`` or None for one ticket's running SLA clocks."""
    if not sla_state or status == PAUSED or sla_state.get("paused_at"):
        return None
    targets = sla_state.get("targets")
    risk = None
    for clock in (targets.values() if isinstance(targets, dict) else ()):
        deadline = clock.get("deadline") if isinstance(clock, dict) else None
        if not deadline:
            continue
        if as_utc(datetime.fromisoformat(deadline)) <= now:
            return "breached"
        if int(clock.get("level", 0)) >= 1:
            risk = "at-risk"
    return risk


def count_backlog(tickets: Iterable[SlaTicket], now: datetime) -> list[BacklogFigures]:
    """All queues first, then one row per queue with open email tickets."""
    overall = BacklogFigures(None)
    queues: dict[str, BacklogFigures] = {}
    now = as_utc(now)
    for ticket in tickets:
        overall.add(ticket, now)
        queues.setdefault(ticket.queue, BacklogFigures(ticket.queue)).add(ticket, now)
    return [overall, *(queues[name] for name in sorted(queues))]


async def open_email_tickets(session: AsyncSession, ids: Collection[int] | None = None) -> list[SlaTicket]:
    """Open email tickets with their SLA state (only those among ``ids`` if given)."""
    stmt = select(Ticket.id, Ticket.queue, Ticket.status, Ticket.created_at, Ticket.first_response_at,
                  Ticket.sla_state).where(Ticket.channel == Channel.EMAIL.value, Ticket.status.in_(OPEN_STATUSES))
    if ids is not None:
        stmt = stmt.where(Ticket.id.in_(ids))
    return [SlaTicket(row.id, row.queue, row.status, as_utc(row.created_at),
                      as_utc(row.first_response_at) if row.first_response_at else None, row.sla_state or {})
            for row in await session.execute(stmt)]


async def email_backlog(session: AsyncSession, now: datetime) -> list[BacklogFigures]:
    """All queues first, then one row per queue with open email tickets."""
    return count_backlog(await open_email_tickets(session), now)


async def alert_figures(session: AsyncSession, since: datetime) -> AlertFigures:
    fired = (await session.execute(
        select(func.count(), func.count().filter(Escalation.fired_at >= Escalation.deadline))
        .where(Escalation.fired_at >= since))).one()
    failed = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.FAILED.value, OutboxMessage.created_at >= since))
    return AlertFigures(int(fired[0]), int(fired[1]), int(failed or 0))


async def emails_per_interval(session: AsyncSession, since: datetime, interval: timedelta) -> list[int]:
    """Emails received in each interval from ``since`` (the day's chart)."""
    stmt = select(TimelineEntry.created_at).where(TimelineEntry.kind == EntryKind.EMAIL_IN.value,
                                                  TimelineEntry.created_at >= since)
    counts: dict[int, int] = {}
    for (created_at,) in await session.execute(stmt):
        index = int((as_utc(created_at) - since) // interval)
        counts[index] = counts.get(index, 0) + 1
    return [counts.get(i, 0) for i in range(max(counts, default=-1) + 1)]
