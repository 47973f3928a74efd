"""The wallboard's email backlog and alert counts, kept in memory from ticket and SLA events.

Re-reading every open email ticket on each change made a frame wait for the database
(tens of milliseconds, hundreds when the disk is busy). Instead the open email tickets
are held here and each event moves them at once or through a small read:

* a new email ticket is counted when its event arrives (open, unanswered, no SLA risk
  yet), and an alert fired is counted from the event itself;
* any other change to an email ticket re-reads just the tickets it named, batched;
* everything is re-read every ``reconcile_every`` seconds (and on a new day, or after an
  event whose effect is not known here), so the figures never drift from the records.

The figures are counted from the tickets' own SLA state, as ``alerts.backlog`` does for
the reports, so the board and the ticket pages agree. Reads run one at a time in a
short-lived task; a full read that overlapped a change made here is thrown away and read
again, so it never rolls a newer figure back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from agent_ui.base.services import WebServices
from alerts.backlog import (
    AlertFigures,
    BacklogFigures,
    SlaTicket,
    alert_figures,
    count_backlog,
    emails_per_interval,
    open_email_tickets,
)
from alerts.events import AlertDeliveryFailed, AlertFired
from core.clock import as_utc
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended
from core.records import Channel, EntryKind, TicketStatus, User
from cti.queue_stats import INTERVAL

log = logging.getLogger(__name__)

EMAIL_KINDS = (EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value)
MAX_RETRIES = 3  # full reads thrown away in a row before waiting for the next frame
MAX_PENDING = 500  # tickets to re-read one by one; more and everything is read again


@dataclasses.dataclass(frozen=True, slots=True)
class BacklogSnapshot:
    backlog: list[BacklogFigures]
    alerts: AlertFigures
    emails_per_interval: list[int]
    names: dict[int, str]


class WallboardBacklog:
    """Open email tickets, today's alerts and emails, and staff names, as the board shows them."""

    def __init__(self, services: WebServices, day_start: Callable[[], datetime], on_change: Callable[[float], None],
                 reconcile_every: float = 10.0) -> None:
        self.services = services
        self.day_start = day_start
        self.on_change = on_change  # called with the wall-clock time of the change
        self.reconcile_every = reconcile_every
        self.reads: collections.deque[float] = collections.deque(maxlen=1000)  # seconds per read, for the bench
        self.loaded = False
        self._tickets: dict[int, SlaTicket] = {}
        self._alerts = AlertFigures(0, 0, 0)
        self._emails: list[int] = []
        self._names: dict[int, str] = {}
        self._day: datetime | None = None
        self._local = 0  # changes made here from events: a full read that overlapped one is stale
        self._version = 0
        self._counted: tuple[int, int, list[BacklogFigures]] | None = None  # (version, second, figures)
        self._pending: dict[int, float] = {}  # ticket id -> when its first unread change happened
        self._full_due = True
        self._full_changed_at: float | None = None
        self._read_at = 0.0
        self._worker: asyncio.Task[None] | None = None

    # -- events ------------------------------------------------------------------------------
    def on_event(self, event: DomainEvent, watched: bool) -> None:
        """Apply what an event says at once; queue a read for what it does not (``watched``: someone looks)."""
        at = time.time()
        if isinstance(event, TicketCreated):
            if event.channel != Channel.EMAIL.value:
                return
            now = as_utc(self.services.clock.now())
            self._put(SlaTicket(event.ticket_id, event.queue, TicketStatus.NEW.value, now, None, {}))
            self._touch(at)
            self._pending.setdefault(event.ticket_id, at)  # its SLA deadline, as the clock set it
        elif isinstance(event, AlertFired):
            a = self._alerts
            self._alerts = AlertFigures(a.fired + 1, a.breaches + event.breached, a.failed_deliveries)
            self._touch(at)
            self._pending.setdefault(event.ticket_id, at)  # its level: the warning makes it at risk
        elif isinstance(event, AlertDeliveryFailed):
            self._full_due = True
            self._full_changed_at = self._full_changed_at or at
        elif isinstance(event, TimelineAppended):
            if event.kind == EntryKind.EMAIL_IN.value:
                self._count_email(as_utc(self.services.clock.now()))
                self._touch(at)
            if event.kind in EMAIL_KINDS or event.ticket_id in self._tickets:
                self._pending.setdefault(event.ticket_id, at)
        elif isinstance(event, TicketUpdated):
            if event.ticket_id in self._tickets or "status" in event.fields:  # status: a solved email reopened
                self._pending.setdefault(event.ticket_id, at)
        elif event.name.startswith("sla.") and isinstance(getattr(event, "ticket_id", None), int):
            self._pending.setdefault(event.ticket_id, at)  # type: ignore[attr-defined]
        else:
            return
        if len(self._pending) > MAX_PENDING:  # long unwatched: one full read is cheaper than this many
            self._pending.clear()
            self._full_due = True
        if watched:
            self.refresh()

    def _put(self, ticket: SlaTicket) -> None:
        self._tickets[ticket.id] = ticket
        self._version += 1

    def _touch(self, at: float) -> None:
        self._local += 1
        self._version += 1
        self.on_change(at)

    def _count_email(self, now: datetime) -> None:
        index = int((now - self.day_start()) // INTERVAL)
        if index < 0:
            return
        emails = list(self._emails)
        emails.extend([0] * (index + 1 - len(emails)))
        emails[index] += 1
        self._emails = emails

    # -- figures -----------------------------------------------------------------------------
    def snapshot(self, now: datetime) -> BacklogSnapshot:
        """The figures at ``now`` (counted again when a ticket moved or a second passed: deadlines)."""
        second = int(as_utc(now).timestamp())
        counted = self._counted
        if counted is None or counted[0] != self._version or counted[1] != second:
            counted = self._counted = (self._version, second, count_backlog(self._tickets.values(), now))
        return BacklogSnapshot(counted[2], self._alerts, self._emails, self._names)

    # -- reading -----------------------------------------------------------------------------
    async def load(self) -> bool:
        """The first full read (the first viewers wait for it); False if the database failed."""
        self._full_due = True
        self.refresh()
        assert self._worker is not None
        await asyncio.shield(self._worker)
        return self.loaded

    def refresh(self) -> None:
        """Start reading what is due, in the background: frames never wait for it."""
        if self._day is not None and self.day_start() != self._day:
            self._full_due = True  # a new day: today's counts start again
        due = self._full_due or self._pending or time.monotonic() - self._read_at >= self.reconcile_every
        if due and (self._worker is None or self._worker.done()):
            self._worker = asyncio.create_task(self._work(), name="wallboard-backlog")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        """Read until nothing is pending: changed tickets first (cheap), then a full read when due."""
        retries = 0
        while True:
            if self._pending:
                pending, self._pending = self._pending, {}
                if not await self._read_tickets(pending):
                    return  # the next frame (a second at most) tries again
            elif (self._full_due or time.monotonic() - self._read_at >= self.reconcile_every) and retries < MAX_RETRIES:
                fresh = await self._read_all()
                if fresh is None:
                    return
                retries = 0 if fresh else retries + 1
            else:
                return

    async def _read_tickets(self, pending: dict[int, float]) -> bool:
        started = time.monotonic()
        try:
            async with self.services.db.session() as session:
                rows = {t.id: t for t in await open_email_tickets(session, list(pending))}
        except Exception:
            log.exception("cannot read changed email tickets for the wallboard")
            for ticket_id, at in pending.items():
                self._pending.setdefault(ticket_id, at)
            return False
        self.reads.append(time.monotonic() - started)
        changed_at = None
        for ticket_id, at in pending.items():
            row = rows.get(ticket_id)
            if row != self._tickets.get(ticket_id):
                if row is None:
                    del self._tickets[ticket_id]
                else:
                    self._tickets[ticket_id] = row
                changed_at = min(at, changed_at or at)
        if changed_at is not None:
            self._touch(changed_at)
        return True

    async def _read_all(self) -> bool | None:
        """Everything again; False if a change made here meanwhile made the result stale, None on failure."""
        started = time.monotonic()
        local, changed_at, self._full_changed_at = self._local, self._full_changed_at, None
        self._full_due = False
        self._read_at = started
        day = self.day_start()
        try:
            async with self.services.db.session() as session:
                tickets = await open_email_tickets(session)
                alerts = await alert_figures(session, day)
                emails = await emails_per_interval(session, day, INTERVAL)
                names = {row.id: row.display_name for row in await session.execute(select(User.id, User.display_name))}
        except Exception:
            log.exception("cannot read the email backlog for the wallboard")
            self._full_due = True
            self._full_changed_at = changed_at
            return None
        self.reads.append(time.monotonic() - started)
        if self.loaded and local != self._local:
            self._full_due = True  # events moved the figures meanwhile: this read may be older than they are
            self._full_changed_at = changed_at
            return False
        by_id = {t.id: t for t in tickets}
        for ticket_id in self._pending:  # changed meanwhile: kept as known until their own read
            known = self._tickets.get(ticket_id)
            if known is None:
                by_id.pop(ticket_id, None)
            else:
                by_id[ticket_id] = known
        fresh = (by_id, alerts, emails, names) != (self._tickets, self._alerts, self._emails, self._names)
        self._tickets, self._alerts, self._emails, self._names = by_id, alerts, emails, names
        self._day = day
        self.loaded = True
        if fresh:
            self._version += 1
            self.on_change(changed_at or time.time())
        return True
