"""What people do with SLA alerts: see the clock, acknowledge, read the log, edit policies."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.events import AlertAcknowledged
from alerts.ladder import escalation_key
from alerts.log_query import PAGE_SIZE, AlertFilter, alerts_query
from alerts.policies import TARGET_LABELS, PolicyStore
from alerts.records import Escalation
from alerts.sla_clock import SlaClock, SlaState, parse_time
from alerts.sms.inbound import InboundSms
from core.audit import record_change
from core.auth import Actor
from core.clock import Clock, as_utc
from core.db import Database
from core.errors import Forbidden, InvalidInput, NotFound
from core.phones import try_normalize_phone
from core.records import (
    OPEN_STATUSES,
    TICKET_NUMBER_OFFSET,
    EntryKind,
    OutboxMessage,
    Role,
    Ticket,
    TimelineEntry,
    User,
)
from routing.desk import TicketDesk

log = logging.getLogger(__name__)


def escalation_dict(esc: Escalation, ticket: Ticket | None = None) -> dict[str, Any]:
    return {
        "id": esc.id,
        "ticket_id": esc.ticket_id,
        "ticket": ticket.tag if ticket else None,
        "subject": ticket.subject if ticket else None,
        "queue": ticket.queue if ticket else None,
        "policy": esc.policy,
        "target": esc.target,
        "cycle": esc.cycle,
        "level": esc.level + 1,
        "deadline": as_utc(esc.deadline).isoformat(),
        "fired_at": as_utc(esc.fired_at).isoformat(),
        "breached": as_utc(esc.deadline) <= as_utc(esc.fired_at),
        "recipients": esc.recipients,
        "acknowledged_at": as_utc(esc.acknowledged_at).isoformat() if esc.acknowledged_at else None,
        "acknowledged_via": esc.acknowledged_via,
    }


@dataclasses.dataclass(frozen=True)
class AlertsPage:
    """A page of the alerts log: its rows, its number, and whether another follows."""

    rows: list[dict[str, Any]]
    page: int
    has_next: bool


class SlaService:
    def __init__(self, db: Database, desk: TicketDesk, store: PolicyStore, sla_clock: SlaClock, clock: Clock,
                 region: str = "US") -> None:
        self.db = db
        self.desk = desk
        self.store = store
        self.sla_clock = sla_clock
        self.clock = clock
        self.region = region
        self.recompute_batch = 500
        self._recompute: asyncio.Task[int] | None = None
        self.on_deadlines_moved: list[Any] = []

    # -- the ticket page ------------------------------------------------------------
    async def ticket_sla(self, session: AsyncSession, actor: Actor, ticket_id: int) -> dict[str, Any]:
        """The clock as the ticket page shows it: each running target, time left, level."""
        ticket = await self.desk.get(session, actor, ticket_id)
        book = await self.store.book(session)
        policy = book.get(ticket.sla_policy)
        state = SlaState(ticket)
        now = self.clock.now()
        paused_at = state.paused_at
        targets: list[dict[str, Any]] = []
        for name, clock in sorted(state.targets.items(), key=lambda kv: kv[1].get("deadline", "")):
            if "deadline" not in clock:
                continue
            deadline = parse_time(clock["deadline"])
            reference = paused_at or now
            left = policy.working.between(reference, deadline) if policy else (deadline - reference).total_seconds()
            targets.append({
                "target": name,
                "label": TARGET_LABELS.get(name, name),
                "deadline": deadline.isoformat(),
                "business_seconds_left": round(left),
                "breached": deadline <= now,
                "level": int(clock.get("level", 0)),
                "levels": len(policy.levels) if policy else 0,
                "acknowledged": bool(clock.get("acked")),
            })
        recent = (await session.execute(
            select(Escalation).where(Escalation.ticket_id == ticket.id).order_by(Escalation.id.desc()).limit(20)
        )).scalars()
        return {
            "ticket_id": ticket.id,
            "policy": ticket.sla_policy,
            "business_time": bool(policy and policy.definition.calendar),
            "paused": paused_at is not None,
            "next_step_at": as_utc(ticket.due_at).isoformat() if ticket.due_at else None,
            "targets": targets,
            "escalations": [escalation_dict(e) for e in recent],
            "can_acknowledge": any(not t["acknowledged"] and t["level"] > 0 for t in targets),
        }

    # -- acknowledging ----------------------------------------------------------------
    async def acknowledge(self, session: AsyncSession, actor: Actor, ticket_id: int, via: str = "web") -> int:
        """Stop the ladder of every running target; returns how many escalations it closed."""
        actor.require(Role.AGENT)
        ticket = await self.desk.get(session, actor, ticket_id)
        state = SlaState(ticket)
        stopped = state.acknowledge()
        if not stopped:
            return 0
        now = self.clock.now()
        closed = 0
        for target, cycle in stopped:
            result = await session.execute(
                update(Escalation)
                .where(Escalation.ticket_id == ticket.id, Escalation.target == target, Escalation.cycle == cycle,
                       Escalation.acknowledged_at.is_(None))
                .values(acknowledged_at=now, acknowledged_by=actor.user_id, acknowledged_via=via)
            )
            closed += result.rowcount or 0  # type: ignore[attr-defined]
        book = await self.store.book(session)
        state.recompute(book.get(ticket.sla_policy))
        await self.desk.append(
            session, ticket, EntryKind.ALERT,
            {"event": "acknowledged", "message": f"SLA alert acknowledged by {actor.login} ({via})", "by": actor.login, "via": via, "targets": [t for t, _ in stopped]},
            author_id=actor.user_id,
        )
        record_change(session, actor, "sla.acknowledge", "ticket", ticket.id, None, {"via": via})
        self.desk.emit(session, AlertAcknowledged(ticket.id, ticket.queue, actor.login))
        return closed

    async def acknowledge_by_sms(self, sms: InboundSms) -> dict[str, Any]:
        """``ACK`` (latest alert sent to that phone) or ``ACK 1042`` from a staff mobile."""
        is_ack, number = sms.ack_number()
        if not is_ack:
            return {"acknowledged": False, "reason": "not an ACK"}
        phone = try_normalize_phone(sms.sender, self.region)
        if phone is None:
            raise InvalidInput("the sender is not a phone number")
        async with self.db.session() as session:
            users = [u for u in (await session.execute(select(User).where(User.active.is_(True)))).scalars()
                     if u.mobile and try_normalize_phone(u.mobile, self.region) == phone]
            if not users:
                raise Forbidden("this phone belongs to no active staff member")
            actor = Actor.of(users[0])
            if number is not None:
                ticket_id: int | None = number - TICKET_NUMBER_OFFSET
            else:
                ticket_id = (await session.execute(
                    select(OutboxMessage.ticket_id)
                    .where(OutboxMessage.channel == "sms", OutboxMessage.recipient == phone,
                           OutboxMessage.ticket_id.is_not(None))
                    .order_by(OutboxMessage.id.desc()).limit(1)
                )).scalar()
            if ticket_id is None:
                raise NotFound("no alert was sent to this phone")
            closed = await self.acknowledge(session, actor, ticket_id, via="sms")
            await self.desk.commit_and_publish(session)
        return {"acknowledged": True, "ticket_id": ticket_id, "escalations": closed}

    # -- the supervisors' log ---------------------------------------------------------
    async def alerts_log(self, session: AsyncSession, actor: Actor, limit: int = 100,
                         unacknowledged: bool = False) -> list[dict[str, Any]]:
        """The newest alerts that notified someone (the API's shape: a plain list)."""
        page = await self.alerts_page(session, actor, AlertFilter(status="open" if unacknowledged else None),
                                      page=1, page_size=min(max(limit, 1), 1000))
        return page.rows

    async def alerts_page(self, session: AsyncSession, actor: Actor, wanted: AlertFilter,
                          page: int = 1, page_size: int = PAGE_SIZE) -> AlertsPage:
        """One page of the alerts log, filtered in the query (levels that notified nobody never
        show, so a page is never padded with rows nobody can act on), with delivery results."""
        actor.require(Role.SUPERVISOR)
        rows = list((await session.execute(alerts_query(wanted, page, page_size))).unique().all())
        more = len(rows) > page_size
        rows = rows[:page_size]
        out = [escalation_dict(esc, ticket) for esc, ticket in rows]
        if out:
            keys = {escalation_key(esc.ticket_id, esc.target, esc.cycle, esc.level): d for (esc, _), d in zip(rows, out, strict=True)}
            for d in out:
                d["deliveries"] = []
            deliveries = (await session.execute(
                select(OutboxMessage).where(OutboxMessage.ticket_id.in_({esc.ticket_id for esc, _ in rows}))
            )).scalars()
            for m in deliveries:
                owner = keys.get(str(m.payload.get("escalation", "")))
                if owner is not None:
                    owner["deliveries"].append({
                        "channel": m.channel, "to": m.recipient, "status": m.status, "attempts": m.attempts,
                        "error": m.last_error, "fallback": bool(m.payload.get("fallback_of")),
                    })
        return AlertsPage(out, max(page, 1), more)

    async def failures(self, session: AsyncSession, actor: Actor, limit: int = 50) -> list[TimelineEntry]:
        actor.require(Role.SUPERVISOR)
        stmt = (select(TimelineEntry).where(TimelineEntry.kind == EntryKind.ALERT.value)
                .order_by(TimelineEntry.id.desc()).limit(limit * 5))
        entries = [e for e in (await session.execute(stmt)).scalars() if e.payload.get("event") == "delivery_failed"]
        return entries[:limit]

    # -- policy edits -----------------------------------------------------------------
    def recompute_open_tickets(self) -> asyncio.Task[int]:
        """Recompute every open ticket's deadlines in batches, in the background."""
        if self._recompute is not None and not self._recompute.done():
            self._recompute.cancel()
        self._recompute = asyncio.create_task(
            self._sweep(Ticket.status.in_(OPEN_STATUSES), self.sla_clock.recompute), name="sla-recompute"
        )
        return self._recompute

    def adopt_unclocked(self) -> asyncio.Task[int]:
        """Start clocks on open tickets that have none (created while SLA was off or before start-up)."""
        return asyncio.create_task(
            self._sweep(and_(Ticket.status.in_(OPEN_STATUSES), Ticket.sla_policy.is_(None)), self.sla_clock.adopt),
            name="sla-adopt",
        )

    async def _sweep(self, where: ColumnElement[bool], fix: Callable[[AsyncSession, Ticket], Awaitable[None]]) -> int:
        last_id, total = 0, 0
        while True:
            async with self.db.transaction() as session:
                tickets = list((await session.execute(
                    select(Ticket).where(Ticket.id > last_id, where).order_by(Ticket.id).limit(self.recompute_batch)
                )).scalars().unique())
                for ticket in tickets:
                    await fix(session, ticket)
            if not tickets:
                break
            last_id = tickets[-1].id
            total += len(tickets)
            for callback in self.on_deadlines_moved:
                callback()
            await asyncio.sleep(0)  # let requests in between batches
        log.info("SLA clocks updated on %d open tickets", total)
        return total
