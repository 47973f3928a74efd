"""The wallboard's live frames: figures gathered, drawn once per language, fanned out, coalesced.

Events only mark the board dirty; one loop draws at most one frame per ``min_interval``
(a viewer needs a few frames a second, not one per AMI event) and at least looks every
``tick`` seconds (a caller joining a queue publishes no event). A frame holds only the
regions whose HTML changed since the last one, plus ``changed_at``: the wall-clock time
of the first change it carries, so delivery delay can be measured. Clocks that only tick
(time in state, longest wait) are counted by the page itself from ``data-since``. Call
figures come from memory (``QueueStats``); the email backlog is re-read from the database
in the background when a ticket or SLA event may have moved it (frames never wait for it),
and the 15-minute charts are redrawn every few seconds at most.

Each language's viewers hang off their own ``LiveHub``: a bounded queue and a writer task
per viewer, so one stalled TV never holds back the rest; it is dropped when its queue is
full (or when it stops answering pings) and its page reconnects and gets a full frame.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import time
from datetime import datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from agent_ui.charts import bar_chart, line_chart
from agent_ui.live import LiveConnection, LiveHub
from agent_ui.vocabulary import N_
from alerts.backlog import (
    AlertFigures,
    BacklogFigures,
    alert_figures,
    email_backlog,
    emails_per_interval,
)
from config.services import Services
from core.auth import Actor
from core.clock import as_utc
from core.errors import Unavailable
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended
from core.records import Channel, EntryKind, User
from core.supervisor import Backoff, SupervisedTask
from cti.queue_stats import INTERVAL, CallBoard, QueueStats

log = logging.getLogger(__name__)

# Agent states as the regions name them (translated there).
AGENT_STATE_NAMES = (N_("ready"), N_("on-call"), N_("wrap-up"), N_("paused"), N_("logged-out"))
REGIONS = ("summary", "queues", "agents", "backlog", "charts")
VIEWER_QUEUE = 8  # frames; at a few frames a second, a couple of seconds behind means stalled
EMAIL_KINDS = (EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value)


@dataclasses.dataclass(frozen=True, slots=True)
class WallboardFigures:
    calls: CallBoard
    backlog: list[BacklogFigures]
    alerts: AlertFigures
    emails_per_interval: list[int]
    names: dict[int, str]


class WallboardFeed:
    def __init__(self, services: Services, stats: QueueStats, env: jinja2.Environment,
                 min_interval: float = 0.2, tick: float = 1.0, backlog_every: float = 10.0,
                 charts_every: float = 5.0) -> None:
        self.services = services
        self.stats = stats
        self.env = env
        self.min_interval = min_interval
        self.tick = tick
        self.backlog_every = backlog_every
        self.charts_every = charts_every
        self.hubs: dict[str, LiveHub] = {}
        self.frames = 0
        self.heartbeat_drops = 0
        self._wake = asyncio.Event()
        self._changed_at: float | None = None
        self._backlog_dirty = True
        self._backlog_at = 0.0
        self._charts_at = 0.0
        self._figures: WallboardFigures | None = None
        self._backlog: tuple[list[BacklogFigures], AlertFigures, list[int], dict[int, str]] | None = None
        self._reading: asyncio.Task[None] | None = None
        self._backlog_changed_at: float | None = None
        self.backlog_reads: collections.deque[float] = collections.deque(maxlen=1000)  # seconds, for the bench
        self._email_ids: set[int] = set()  # open email tickets as last read: their updates move the backlog
        self._last: dict[str, dict[str, str]] = {}
        self._seq = 0
        self.task = SupervisedTask("wallboard-feed", self._run, services.health, Backoff(0.5, 10.0), required=False)
        stats.listeners.append(self.mark)

    # -- what changed --------------------------------------------------------------------
    def mark(self, at: float | None = None) -> None:
        """Something on the board changed (at ``at``, wall clock; now by default)."""
        at = at or time.time()
        if self._changed_at is None or at < self._changed_at:
            self._changed_at = at
        self._wake.set()

    def _moves_backlog(self, event: DomainEvent) -> bool:
        """Whether an event may change the email backlog or the alerts (calls' tickets do not)."""
        if event.name.startswith("sla."):
            return True
        if isinstance(event, TicketCreated):
            return event.channel == Channel.EMAIL.value
        if isinstance(event, TimelineAppended):
            return event.kind in EMAIL_KINDS or event.ticket_id in self._email_ids
        if isinstance(event, TicketUpdated):
            return event.ticket_id in self._email_ids
        return False

    async def on_event(self, event: DomainEvent) -> None:
        if self._moves_backlog(event):
            self._backlog_dirty = True
            self._backlog_changed_at = self._backlog_changed_at or time.time()
            if self.viewers:
                self._refresh_backlog()

    async def stop(self) -> None:
        await self.task.stop()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading

    # -- viewers -------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return sum(hub.dropped for hub in self.hubs.values()) + self.heartbeat_drops

    @property
    def viewers(self) -> int:
        return sum(hub.connections for hub in self.hubs.values())

    async def attach(self, ws: web.WebSocketResponse, actor: Actor, lang: str) -> tuple[LiveHub, LiveConnection]:
        hub = self.hubs.setdefault(lang, LiveHub(VIEWER_QUEUE))
        conn = hub.attach(ws, actor)
        regions = self._last.get(lang) or await self.regions(lang)
        conn.offer(self._frame(regions, None))
        return hub, conn

    # -- drawing -------------------------------------------------------------------------
    async def figures(self) -> WallboardFigures:
        """Calls from memory every time; the backlog as last read (read first if never)."""
        if self._backlog is None:  # the first viewers: one read for all of them
            if self._reading is None or self._reading.done():
                self._reading = asyncio.create_task(self._keep_reading(), name="wallboard-backlog")
            await asyncio.shield(self._reading)
            if self._backlog is None:
                raise Unavailable("the wallboard cannot read the email backlog from the database")
        assert self._backlog is not None
        self._figures = WallboardFigures(self.stats.board(), *self._backlog)
        return self._figures

    def _refresh_backlog(self) -> None:
        """Re-read the backlog in the background when it may have moved: frames never wait for the database."""
        due = self._backlog_dirty or time.monotonic() - self._backlog_at >= self.backlog_every
        if due and (self._reading is None or self._reading.done()):
            self._reading = asyncio.create_task(self._keep_reading(), name="wallboard-backlog")

    async def _keep_reading(self) -> None:
        """Read until no change arrived during the last read (the next one may be due at once)."""
        while True:
            self._backlog_dirty = False
            if not await self._read_backlog() or not self._backlog_dirty:
                return  # after a failure the next frame (a second at most) tries again

    async def _read_backlog(self) -> bool:
        self._backlog_at = started = time.monotonic()
        changed_at, self._backlog_changed_at = self._backlog_changed_at, None
        start = self.stats.day_start()
        try:
            async with self.services.db.session() as session:
                ids: set[int] = set()
                backlog = await email_backlog(session, self.services.clock.now(), ids)
                alerts = await alert_figures(session, start)
                emails = await emails_per_interval(session, start, INTERVAL)
                names = {row.id: row.display_name for row in await session.execute(select(User.id, User.display_name))}
        except Exception:
            log.exception("cannot read the email backlog for the wallboard")
            self._backlog_dirty = True
            return False
        self._email_ids = ids
        self.backlog_reads.append(time.monotonic() - started)
        fresh = (backlog, alerts, emails, names)
        if fresh != self._backlog:
            self._backlog = fresh
            self.mark(changed_at)
        return True

    async def regions(self, lang: str, figures: WallboardFigures | None = None) -> dict[str, str]:
        figures = figures or self._figures or await self.figures()
        template = self.env.get_template("wallboard/regions.html")
        context = template.new_context({"lang": lang, **present(figures, self.services.settings.timezone)})
        return {name: "".join(template.blocks[name](context)).strip() for name in REGIONS}

    def now_epoch(self) -> float:
        """The server's clock, which ``data-since`` values count from (a test's clock too)."""
        return as_utc(self.services.clock.now()).timestamp()

    def _frame(self, regions: dict[str, str], changed_at: float | None) -> str:
        self._seq += 1
        return json.dumps({"event": "wallboard.frame",
                           "data": {"seq": self._seq, "changed_at": changed_at, "now": self.now_epoch(),
                                    "regions": regions}})

    async def publish(self) -> int:
        """Draw the board for each language watched and send the regions that changed."""
        changed_at, self._changed_at = self._changed_at, None
        self._wake.clear()
        live = {lang: hub for lang, hub in self.hubs.items() if hub.connections}
        if not live:
            return 0
        self._refresh_backlog()
        figures = await self.figures()
        sent = 0
        charts_due = time.monotonic() - self._charts_at >= self.charts_every
        if charts_due:
            self._charts_at = time.monotonic()
        for lang, hub in live.items():
            regions = await self.regions(lang, figures)
            last = self._last.get(lang, {})
            if not charts_due and "charts" in last:  # 15-minute bars: redrawn every few seconds at most
                regions["charts"] = last["charts"]
            delta = {name: html for name, html in regions.items() if last.get(name) != html}
            self._last[lang] = regions
            if delta:
                hub.deliver(self._frame(delta, changed_at))
                sent += 1
        self.frames += sent
        return sent

    async def _run(self, task: SupervisedTask) -> None:
        task.healthy("drawing frames")
        while True:
            try:
                async with asyncio.timeout(self.tick):
                    await self._wake.wait()
            except TimeoutError:
                pass
            await self.publish()
            await asyncio.sleep(self.min_interval)  # coalesce whatever arrives meanwhile into the next frame


def ticking_clock(since: datetime | None) -> Markup:
    """A span the page counts up from ``since`` each second (so no frame is needed to tick)."""
    if since is None:
        return Markup("–")
    return Markup('<span class="clock" data-since="%d">–</span>') % int(as_utc(since).timestamp())


def present(figures: WallboardFigures, timezone: str) -> dict[str, Any]:
    """What the region templates show: figures plus the charts, drawn here once."""
    try:
        zone = ZoneInfo(timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    calls = figures.calls
    count = max(len(calls.intervals), len(figures.emails_per_interval))
    day_start = datetime.combine(calls.day, clock_time(), zone)
    labels = [f"{(day_start + i * INTERVAL):%H}:00" if i % 8 == 0 else "" for i in range(count)]
    offered = [calls.intervals[i].tally.offered if i < len(calls.intervals) else 0 for i in range(count)]
    emails = [figures.emails_per_interval[i] if i < len(figures.emails_per_interval) else 0 for i in range(count)]
    service = [calls.intervals[i].service_level_so_far if i < len(calls.intervals) else None for i in range(count)]
    return {
        "calls": calls,
        "backlog": figures.backlog,
        "alerts": figures.alerts,
        "names": figures.names,
        "contacts_chart": bar_chart("contacts", labels, [("calls", offered), ("emails", emails)]),
        "service_chart": line_chart("service level", labels, service, target=0.8),
        "since": ticking_clock,
    }

