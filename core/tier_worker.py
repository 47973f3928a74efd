"""Keeping tiers current in the background: on change and on a schedule.

On change: ticket events (a new ticket, a call or mail on one, a new tag or category) name
tickets; their ids are collected (the bus handler only adds to a set) and the worker
recomputes those tickets' customers shortly after, coalescing bursts. On a schedule: every
``check_every_s`` the worker sweeps, batch by batch, the customers not looked at for
``recompute_every_s`` (recency rules change with time alone). Both run inside one supervised
task that backs off on failure and reports its health.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pydantic import Field

from core.clock import Clock
from core.db import Database
from core.events import EventBus, TicketCreated, TicketUpdated, TimelineAppended
from core.health import HealthRegistry
from core.section import Section
from core.supervisor import SupervisedTask
from core.tiering import BATCH, recompute_for_tickets, sweep_batch

log = logging.getLogger(__name__)


class TierSettings(Section):
    recompute_every_s: float = Field(
        86_400.0, ge=60, description="each customer's tier is recomputed at least this often (recency rules age)")
    check_every_s: float = Field(60.0, ge=1, description="how often the scheduled recompute looks for customers due")
    batch: int = Field(BATCH, ge=1, le=5000, description="customers per transaction in the scheduled recompute")
    change_delay_s: float = Field(0.5, ge=0, le=60, description="changes are gathered this long before recomputing")


class TierWorker:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, health: HealthRegistry,
                 settings: TierSettings | None = None) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.settings = settings or TierSettings.model_validate({})
        self.task = SupervisedTask("tiers", self._run, health, required=False, degrade_after=5)
        self._pending: set[int] = set()
        self._wake = asyncio.Event()

    def subscribe(self) -> None:
        self.bus.subscribe(TicketCreated, self._ticket_changed)
        self.bus.subscribe(TicketUpdated, self._ticket_changed)
        self.bus.subscribe(TimelineAppended, self._ticket_changed)

    async def _ticket_changed(self, event: TicketCreated | TicketUpdated | TimelineAppended) -> None:
        self._pending.add(event.ticket_id)
        self._wake.set()

    def start(self) -> None:
        self.subscribe()
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def apply_changes(self) -> int:
        """Recompute the customers of the tickets changed since the last call."""
        if not self._pending:
            return 0
        tickets, self._pending = self._pending, set()
        try:
            async with self.db.transaction() as session:
                return await recompute_for_tickets(session, tickets, self.clock.now())
        except BaseException:
            # Rolled back (the database away, or cancelled at shutdown): these customers are
            # still to recompute, on the supervisor's next try.
            self._pending |= tickets
            raise

    async def sweep(self) -> int:
        """The scheduled recompute: batches until nothing is due; how many were looked at."""
        every = timedelta(seconds=self.settings.recompute_every_s)
        looked = 0
        while True:
            async with self.db.transaction() as session:
                done = await sweep_batch(session, self.clock.now(), every, self.settings.batch)
            looked += done
            if done < self.settings.batch:
                return looked
            await self.apply_changes()  # changes do not wait behind a long sweep

    async def _run(self, task: SupervisedTask) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            if loop.time() >= next_sweep:
                looked = await self.sweep()
                if looked:
                    log.info("tiers: recomputed %d customers on schedule", looked)
                next_sweep = loop.time() + self.settings.check_every_s
            self._wake.clear()
            await self.apply_changes()
            task.healthy()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(next_sweep - loop.time(), 0.01))
            except TimeoutError:
                continue
            await asyncio.sleep(self.settings.change_delay_s)  # let a burst of changes gather
