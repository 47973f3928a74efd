"""The SLA scanner: fires ladder steps whose time has come, and sleeps until the next one.

It reads only tickets with ``due_at <= now`` (an index range read; on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so several instances share the work), fires their levels
in one transaction per batch, and then sleeps until the earliest ``due_at`` — waking
early when a ticket event says a deadline may have moved closer. After a restart the
first scan picks up everything that came due while the server was down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.ladder import EscalationLadder, FiredBatch
from alerts.recipients import Directory
from alerts.records import Escalation
from core.clock import Clock, as_utc, sleep_or_wake
from core.db import Database
from core.events import EventBus, TicketCreated, TicketUpdated
from core.records import EntryKind, Ticket
from core.supervisor import SupervisedTask
from routing.desk import TicketDesk

log = logging.getLogger(__name__)

FAILING_WINDOW = 600.0  # seconds a ticket's failed escalation keeps the scanner reported as failing

OnCommitted = Callable[[FiredBatch], None]


class SlaScanner:
    def __init__(
        self,
        db: Database,
        ladder: EscalationLadder,
        desk: TicketDesk,
        clock: Clock,
        region: str = "US",
        batch: int = 200,
        max_sleep: float = 60.0,
        on_committed: Sequence[OnCommitted] = (),
    ) -> None:
        self.db = db
        self.ladder = ladder
        self.desk = desk
        self.clock = clock
        self.region = region
        self.batch = batch
        self.max_sleep = max_sleep
        self.on_committed = list(on_committed)
        self.fired = 0
        self.scans = 0
        self.retry_seconds = 60.0  # a ticket whose escalation failed is tried again after this
        self.failing: dict[int, tuple[float, str]] = {}  # ticket id -> (monotonic time, error)
        self._wakeup = asyncio.Event()
        self._scanning = asyncio.Lock()  # one scan at a time per process; instances share via the database

    def wake(self) -> None:
        """A deadline may have moved closer: re-read the earliest ``due_at`` now."""
        self._wakeup.set()

    def subscribe(self, bus: EventBus) -> None:
        async def on_ticket(_event: TicketCreated | TicketUpdated) -> None:
            self.wake()

        bus.subscribe(TicketCreated, on_ticket)
        bus.subscribe(TicketUpdated, on_ticket)

    def due_query(self, now: datetime):
        """The one read of the hot path: due tickets, oldest first, from the ``due_at`` index."""
        stmt = select(Ticket.id).where(Ticket.due_at <= now).order_by(Ticket.due_at).limit(self.batch)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        return stmt

    async def scan_once(self) -> int:
        """Fire one batch of due tickets in one transaction; return how many tickets it handled."""
        async with self._scanning:
            return await self._scan(self.clock.now())

    async def _scan(self, now: datetime) -> int:
        batch = FiredBatch()
        async with self.db.session() as session:
            async with session.begin():
                ids = list((await session.execute(self.due_query(now))).scalars())
                if not ids:
                    return 0
                if self.db.is_sqlite:
                    # Take SQLite's write lock before reading the tickets, so no request commits a
                    # change to them between our read and our write (PostgreSQL: FOR UPDATE above).
                    await session.execute(text("UPDATE tickets SET due_at = due_at WHERE id = -1"))
                    ids = list((await session.execute(self.due_query(now))).scalars())
                tickets = (await session.execute(select(Ticket).where(Ticket.id.in_(ids)))).scalars().unique()
                fired_before = await session.execute(
                    select(Escalation.ticket_id, Escalation.target, Escalation.cycle, Escalation.level)
                    .where(Escalation.ticket_id.in_(ids))
                )
                batch.already = {(t, target, c, lv) for t, target, c, lv in fired_before}
                directory = await Directory.load(session, self.region)
                for ticket in tickets:
                    await self._fire_isolated(session, ticket, now, directory, batch)
                await self.ladder.send(batch)
                await batch.write(session)
            await self.desk.publish_pending(session)
        self.scans += 1
        self.fired += len(batch)
        for callback in self.on_committed:
            callback(batch)
        return len(ids)

    async def _fire_isolated(
        self, session: AsyncSession, ticket: Ticket, now: datetime, directory: Directory, batch: FiredBatch
    ) -> None:
        """Fire one ticket's levels; if that fails, only this ticket waits (and says so on its timeline)."""
        mark = batch.mark()
        events = session.info.setdefault("frontdesk_events", [])
        emitted = len(events)
        try:
            await self.ladder.fire_due(session, ticket, now, directory, batch)
        except Exception as exc:  # one ticket's failure must not hold back the batch
            batch.rollback(mark)
            del events[emitted:]
            error = f"{type(exc).__name__}: {exc}"[:500]
            retry_at = now + timedelta(seconds=self.retry_seconds)
            log.warning("ticket %s: SLA escalation failed, retrying at %s: %s", ticket.id, retry_at, error,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            first_failure = ticket.id not in self.failing  # one timeline note per run of failures
            self.failing[ticket.id] = (time.monotonic(), error)
            ticket.due_at = retry_at
            if not first_failure:
                return
            batch.timeline.append({
                "ticket_id": ticket.id,
                "kind": EntryKind.ALERT.value,
                "created_at": now,
                "payload": {"event": "escalation_failed", "error": error, "retry_at": retry_at.isoformat(),
                            "message": f"SLA escalation failed ({error}); retrying at {retry_at.isoformat()}"},
                "dedup_key": f"sla-failed:{ticket.id}:{now.isoformat()}",
            })
        else:
            self.failing.pop(ticket.id, None)

    def recent_failures(self) -> dict[int, str]:
        """Tickets whose escalation failed within ``FAILING_WINDOW`` seconds and has not succeeded since."""
        horizon = time.monotonic() - FAILING_WINDOW
        for ticket_id in [t for t, (at, _) in self.failing.items() if at < horizon]:
            del self.failing[ticket_id]
        return {t: error for t, (_, error) in self.failing.items()}

    async def next_due(self) -> datetime | None:
        async with self.db.session() as session:
            value = (await session.execute(select(func.min(Ticket.due_at)))).scalar()
        return as_utc(value) if value else None

    async def run(self, task: SupervisedTask) -> None:
        """Supervised body: scan while work is due, then sleep until the next deadline."""
        while True:
            self._wakeup.clear()
            while await self.scan_once() >= self.batch:
                pass
            failing = self.recent_failures()
            if failing:
                first = min(failing)
                # Some escalations are not going out: an outage of their own, so /readyz says so at once.
                task.unhealthy(f"escalations failing on {len(failing)} tickets (ticket {first}: {failing[first]})",
                               degraded=True)
            else:
                task.healthy(f"fired {self.fired} escalations")
            await sleep_or_wake(self.clock, self._wakeup, await self.next_due(), self.max_sleep)
