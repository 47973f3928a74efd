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
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select, text

from alerts.ladder import EscalationLadder, FiredBatch
from alerts.recipients import Directory
from alerts.records import Escalation
from core.clock import Clock, as_utc, sleep_or_wake
from core.db import Database
from core.events import EventBus, TicketCreated, TicketUpdated
from core.records import Ticket
from core.supervisor import SupervisedTask
from routing.desk import TicketDesk

log = logging.getLogger(__name__)

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
                    await self.ladder.fire_due(session, ticket, now, directory, batch)
                await batch.write(session)
            await self.desk.publish_pending(session)
        self.scans += 1
        self.fired += len(batch)
        for callback in self.on_committed:
            callback(batch)
        return len(ids)

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
            task.healthy(f"fired {self.fired} escalations")
            await sleep_or_wake(self.clock, self._wakeup, await self.next_due(), self.max_sleep)
