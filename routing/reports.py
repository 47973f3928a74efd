"""Supervisor reports over a date range: per agent, per category, SLA compliance per queue and policy.

Everything is counted from our own records (calls, timeline entries, tickets, fired
escalations), so a report agrees with the ticket pages and the wallboard:

* per agent: calls answered and their talk time (``calls``), emails sent (``email_out``
  entries they wrote), first-response time of the tickets assigned to them whose first
  response fell in the range; work offered to them in the range (``routing_offers``) and how
  many they accepted (and how fast), declined and missed
* per category: tickets opened in the range, still open, solved, first-response time, breached
* SLA compliance: tickets opened in the range under a policy; breached when an escalation
  fired at or after its deadline, or a running target is past its deadline now
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.backlog import sla_risk
from alerts.records import Escalation
from core.auth import Actor
from core.clock import as_utc
from core.errors import InvalidInput
from core.measure import ratio
from core.records import OPEN_STATUSES, Category, EntryKind, Role, Ticket, TimelineEntry, User
from cti.records import CallRecord, CallSegment
from routing.records import Offer

MAX_DAYS = 366


@dataclasses.dataclass(frozen=True, slots=True)
class DateRange:
    first: date
    last: date  # inclusive
    zone: ZoneInfo

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date, zone: ZoneInfo) -> DateRange:
        try:
            end = date.fromisoformat(last) if last else today
            start = date.fromisoformat(first) if first else end - timedelta(days=6)
        except ValueError as exc:
            raise InvalidInput("dates are written YYYY-MM-DD", {"from": first, "to": last}) from exc
        if start > end or (end - start).days >= MAX_DAYS:
            raise InvalidInput(f"the range must run forwards and span at most {MAX_DAYS} days",
                               {"from": start.isoformat(), "to": end.isoformat()})
        return cls(start, end, zone)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(ZoneInfo("UTC"))

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(ZoneInfo("UTC"))


@dataclasses.dataclass(slots=True)
class AgentRow:
    user_id: int
    name: str
    calls: int = 0
    talk_s: float = 0.0
    emails: int = 0
    first_responses: int = 0
    first_response_s: float = 0.0
    offers: int = 0  # work pushed to them (routing offers), and what they did with it
    accepted: int = 0
    declined: int = 0
    missed: int = 0
    accept_s: float = 0.0  # offered → accepted, summed over the accepted

    @property
    def avg_talk_s(self) -> float | None:
        return ratio(self.talk_s, self.calls)

    @property
    def avg_accept_s(self) -> float | None:
        return ratio(self.accept_s, self.accepted)

    @property
    def avg_first_response_s(self) -> float | None:
        return ratio(self.first_response_s, self.first_responses)


@dataclasses.dataclass(slots=True)
class CategoryRow:
    category: str
    opened: int = 0
    still_open: int = 0
    solved: int = 0
    first_responses: int = 0
    first_response_s: float = 0.0
    breached: int = 0
    by_channel: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def avg_first_response_s(self) -> float | None:
        return ratio(self.first_response_s, self.first_responses)


@dataclasses.dataclass(slots=True)
class ComplianceRow:
    queue: str
    policy: str
    tickets: int = 0
    breached: int = 0

    @property
    def compliance(self) -> float | None:
        return ratio(self.tickets - self.breached, self.tickets)


async def agent_report(session: AsyncSession, actor: Actor, span: DateRange) -> list[AgentRow]:
    actor.require(Role.SUPERVISOR)
    rows = {u.id: AgentRow(u.id, u.display_name) for u in (await session.execute(select(User))).scalars()}
    # Each agent's own segments (after a transfer both agents took the call, each for their
    # part); calls recorded without segments count whole for the agent who ended them.
    segments = select(CallSegment.agent_id, func.count(func.distinct(CallSegment.call_id)),
                      func.coalesce(func.sum(CallSegment.talk_s), 0.0)).where(
        CallSegment.agent_id.is_not(None), CallSegment.started_at >= span.since, CallSegment.started_at < span.until,
    ).group_by(CallSegment.agent_id)
    whole = select(CallRecord.agent_id, func.count(), func.coalesce(func.sum(CallRecord.talk_s), 0.0)).where(
        CallRecord.agent_id.is_not(None), CallRecord.answered_at >= span.since, CallRecord.answered_at < span.until,
        ~select(CallSegment.id).where(CallSegment.call_id == CallRecord.id).exists(),
    ).group_by(CallRecord.agent_id)
    for query in (segments, whole):
        for agent_id, count, talk in await session.execute(query):
            if agent_id in rows:
                rows[agent_id].calls += int(count)
                rows[agent_id].talk_s += float(talk)
    mails = select(TimelineEntry.author_id, func.count()).where(
        TimelineEntry.kind == EntryKind.EMAIL_OUT.value, TimelineEntry.author_id.is_not(None),
        TimelineEntry.created_at >= span.since, TimelineEntry.created_at < span.until,
    ).group_by(TimelineEntry.author_id)
    for author_id, count in await session.execute(mails):
        if author_id in rows:
            rows[author_id].emails = int(count)
    firsts = select(Ticket.assignee_id, Ticket.created_at, Ticket.first_response_at).where(
        Ticket.assignee_id.is_not(None), Ticket.first_response_at >= span.since, Ticket.first_response_at < span.until)
    for assignee_id, created_at, first_response_at in await session.execute(firsts):
        if assignee_id in rows and first_response_at is not None:
            row = rows[assignee_id]
            row.first_responses += 1
            row.first_response_s += max(0.0, (as_utc(first_response_at) - as_utc(created_at)).total_seconds())
    offers = select(Offer.agent_id, Offer.outcome, Offer.offered_at, Offer.answered_at).where(
        Offer.offered_at >= span.since, Offer.offered_at < span.until)
    for agent_id, outcome, offered_at, answered_at in await session.execute(offers):
        offered_to = rows.get(agent_id)
        if offered_to is None:
            continue
        offered_to.offers += 1
        if outcome == "accepted" and answered_at is not None:
            offered_to.accepted += 1
            offered_to.accept_s += max(0.0, (as_utc(answered_at) - as_utc(offered_at)).total_seconds())
        elif outcome == "declined":
            offered_to.declined += 1
        elif outcome == "missed":
            offered_to.missed += 1
    active = [r for r in rows.values() if r.calls or r.emails or r.first_responses or r.offers]
    return sorted(active, key=lambda r: r.name.lower())


async def _breached_tickets(session: AsyncSession, ticket_ids: list[int]) -> set[int]:
    breached: set[int] = set()
    for start in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[start:start + 500]
        stmt = select(Escalation.ticket_id).where(Escalation.ticket_id.in_(chunk),
                                                  Escalation.fired_at >= Escalation.deadline).distinct()
        breached.update(ticket_id for (ticket_id,) in await session.execute(stmt))
    return breached


async def category_report(session: AsyncSession, actor: Actor, span: DateRange, now: datetime) -> list[CategoryRow]:
    actor.require(Role.SUPERVISOR)
    rows = {c.value: CategoryRow(c.value) for c in Category}
    stmt = select(Ticket.id, Ticket.category, Ticket.channel, Ticket.status, Ticket.created_at,
                  Ticket.first_response_at, Ticket.sla_state).where(Ticket.created_at >= span.since,
                                                                    Ticket.created_at < span.until)
    tickets = list(await session.execute(stmt))
    breached = await _breached_tickets(session, [t.id for t in tickets])
    for t in tickets:
        row = rows.setdefault(t.category, CategoryRow(t.category))
        row.opened += 1
        row.still_open += t.status in OPEN_STATUSES
        row.solved += t.status not in OPEN_STATUSES
        row.by_channel[t.channel] = row.by_channel.get(t.channel, 0) + 1
        if t.first_response_at is not None:
            row.first_responses += 1
            row.first_response_s += max(0.0, (as_utc(t.first_response_at) - as_utc(t.created_at)).total_seconds())
        row.breached += t.id in breached or sla_risk(t.sla_state, t.status, now) == "breached"
    return list(rows.values())


async def sla_compliance(session: AsyncSession, actor: Actor, span: DateRange, now: datetime) -> list[ComplianceRow]:
    actor.require(Role.SUPERVISOR)
    stmt = select(Ticket.id, Ticket.queue, Ticket.sla_policy, Ticket.status, Ticket.sla_state).where(
        Ticket.sla_policy.is_not(None), Ticket.created_at >= span.since, Ticket.created_at < span.until)
    tickets = list(await session.execute(stmt))
    breached = await _breached_tickets(session, [t.id for t in tickets])
    rows: dict[tuple[str, str], ComplianceRow] = {}
    for t in tickets:
        row = rows.setdefault((t.queue, t.sla_policy), ComplianceRow(t.queue, t.sla_policy))
        row.tickets += 1
        row.breached += t.id in breached or sla_risk(t.sla_state, t.status, now) == "breached"
    return [rows[key] for key in sorted(rows)]
