"""The wallboard's live frames: figures gathered, drawn once per language, fanned out, coalesced.

Events only mark the board dirty; one loop draws at most one frame per ``min_interval``
(a viewer needs a few frames a second, not one per AMI event) and at least looks every
``tick`` seconds (a caller joining a queue publishes no event). A frame holds only the
regions whose HTML changed since the last one, plus ``changed_at``: the wall-clock time
of the first change it carries, so delivery delay can be measured. Clocks that only tick
(time in state, longest wait) are counted by the page itself from ``data-since``. Call
figures come from memory (``QueueStats``), and so does the email backlog
(``WallboardBacklog``, moved by ticket and SLA events; frames never wait for the database);
the 15-minute charts are redrawn every few seconds at most. The window runs from the start
of the last frame, so a frame drawn while the board was quiet goes out at once.

Each language's viewers hang off their own ``BroadcastHub``: a frame is encoded once and
written to every viewer's socket without awaiting any, so one stalled TV never holds back
the rest; it is dropped when too much is left unsent on its socket (or when it stops
answering pings) and its page reconnects and gets a full frame.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import math
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from agent_ui.base.services import WebServices
from agent_ui.base.vocabulary import N_
from agent_ui.live.broadcast import BroadcastHub, Viewer
from agent_ui.live.hub import ACCESS_ENDED
from agent_ui.wallboard.backlog import WallboardBacklog
from agent_ui.wallboard.charts import bar_chart, line_chart
from alerts.backlog import AlertFigures, BacklogFigures
from alerts.settings import CalendarDefinition
from core.auth import Actor
from core.clock import as_utc
from core.errors import Unavailable
from core.events import DomainEvent
from core.supervisor import Backoff, SupervisedTask
from core.users import AccessEnded
from cti.queue_stats import INTERVAL, CallBoard, QueueStats
from routing.assignment import Assignment
from routing.satisfaction_report import SatisfactionToday, satisfaction_today
from routing.work_board import WorkFigures, work_figures

log = logging.getLogger(__name__)

# Agent states as the regions name them (translated there).
AGENT_STATE_NAMES = (N_("ready"), N_("on-call"), N_("wrap-up"), N_("paused"), N_("logged-out"), N_("unknown"))
REGIONS = ("summary", "queues", "agents", "backlog", "work", "charts")
WORK_EVERY_S = 2.0  # how often the pushed-work figures are read again while someone watches
SATISFACTION_EVERY_S = 10.0  # how often today's ratings and complaints are read again while someone watches
VIEWER_BACKLOG = 128 * 1024  # bytes unsent beyond what the kernel holds: many frames behind means stalled


@dataclasses.dataclass(frozen=True, slots=True)
class WallboardFigures:
    calls: CallBoard
    backlog: list[BacklogFigures]
    alerts: AlertFigures
    emails_per_interval: list[int]
    names: dict[int, str]
    work: WorkFigures | None = None  # pushed work and offers (None: this server assigns no work)
    satisfaction: SatisfactionToday | None = None  # today's ratings (CSAT) and complaints (None: not read yet)


class WallboardFeed:
    def __init__(self, services: WebServices, stats: QueueStats, env: jinja2.Environment,
                 min_interval: float = 0.2, tick: float = 1.0, backlog_every: float = 10.0,
                 charts_every: float = 5.0) -> None:
        self.services = services
        self.stats = stats
        self.env = env
        self.min_interval = min_interval
        self.tick = tick
        self.backlog_every = backlog_every
        self.charts_every = charts_every
        self.hubs: dict[str, BroadcastHub] = {}
        self.frames = 0
        self.heartbeat_drops = 0
        self._wake = asyncio.Event()
        self._changed_at: float | None = None
        self._charts_at = 0.0
        self._figures: WallboardFigures | None = None
        self.backlog = WallboardBacklog(services, stats.day_start, self.mark, backlog_every)
        self._last: dict[str, dict[str, str]] = {}
        self._seq = 0
        # Pushed work (``routing.work_board``): read from the database by the drawing loop at most
        # every ``WORK_EVERY_S`` (sooner after an offer event); never on a viewer's path but the first.
        self.assignment: Assignment | None = None
        self._work: WorkFigures | None = None
        self._work_at = -math.inf
        self._satisfaction: SatisfactionToday | None = None
        self._satisfaction_at = -math.inf
        self.task = SupervisedTask("wallboard-feed", self._run, services.health, Backoff(0.5, 10.0), required=False)
        stats.listeners.append(self.mark)

    # -- what changed --------------------------------------------------------------------
    def mark(self, at: float | None = None) -> None:
        """Something on the board changed (at ``at``, wall clock; now by default)."""
        at = at or time.time()
        if self._changed_at is None or at < self._changed_at:
            self._changed_at = at
        self._wake.set()

    async def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, AccessEnded):  # a disabled supervisor's board goes dark at once
            for hub in self.hubs.values():
                hub.end_user(event.user_id, ACCESS_ENDED)
            return
        self.backlog.on_event(event, watched=bool(self.viewers))
        if event.name in ("routing.offer", "routing.offer_ended") and self.viewers:
            self._work_at = -math.inf
            self.mark()

    async def resync(self) -> None:
        """Events from other instances may have been missed: today's call figures and the backlog
        are read again from the database, and every viewer gets the board as it then stands."""
        async with self.services.db.session() as session:
            await self.stats.load(session)
        await self.backlog.load()
        self._work_at = -math.inf
        self.mark()

    async def stop(self) -> None:
        await self.task.stop()
        await self.backlog.stop()

    # -- viewers -------------------------------------------------------------------------
    @property
    def backlog_reads(self) -> collections.deque[float]:
        """Seconds per backlog read (for the bench)."""
        return self.backlog.reads

    @property
    def dropped(self) -> int:
        return sum(hub.dropped for hub in self.hubs.values()) + self.heartbeat_drops

    @property
    def viewers(self) -> int:
        return sum(hub.connections for hub in self.hubs.values())

    async def attach(self, ws: web.WebSocketResponse, actor: Actor, lang: str,
                     transport: asyncio.Transport) -> tuple[BroadcastHub, Viewer]:
        """A new viewer gets the whole board, then every frame after it."""
        regions = self._last.get(lang) or await self.regions(lang)
        hub = self.hubs.setdefault(lang, BroadcastHub(VIEWER_BACKLOG))
        return hub, hub.attach(ws, actor, transport, self._frame(regions, None))

    # -- drawing -------------------------------------------------------------------------
    async def figures(self) -> WallboardFigures:
        """Calls and the backlog from memory (the backlog read first if it never was)."""
        if not self.backlog.loaded and not await self.backlog.load():  # the first viewers: one read for all
            raise Unavailable("the wallboard cannot read the email backlog from the database")
        snap = self.backlog.snapshot(self.services.clock.now())
        self._figures = WallboardFigures(self.stats.board(), snap.backlog, snap.alerts, snap.emails_per_interval,
                                         snap.names, await self._work_figures(), await self._satisfaction_figures())
        return self._figures

    async def _satisfaction_figures(self) -> SatisfactionToday | None:
        """Today's CSAT and complaints: two indexed counts, read at most every ``SATISFACTION_EVERY_S``."""
        if time.monotonic() - self._satisfaction_at >= SATISFACTION_EVERY_S:
            self._satisfaction_at = time.monotonic()
            try:
                async with self.services.db.session() as session:
                    self._satisfaction = await satisfaction_today(session, self.stats.day_start())
            except Exception:  # the board keeps showing the last figures; the next look tries again
                log.exception("wallboard: reading today's ratings and complaints failed")
        return self._satisfaction

    async def _work_figures(self) -> WorkFigures | None:
        if self.assignment is None:
            return None
        if time.monotonic() - self._work_at >= WORK_EVERY_S:
            self._work_at = time.monotonic()
            try:
                async with self.services.db.session() as session:
                    self._work = await work_figures(session, self.assignment, self.stats.day_start())
            except Exception:  # the board keeps showing the last figures; the next look tries again
                log.exception("wallboard: reading the pushed-work figures failed")
        return self._work

    async def regions(self, lang: str, figures: WallboardFigures | None = None) -> dict[str, str]:
        figures = figures or self._figures or await self.figures()
        template = self.env.get_template("wallboard/regions.html")
        context = template.new_context({"lang": lang, **present(figures, self.services.settings.timezone,
                                                                                 self.services.settings.sla.calendars)})
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
        self.backlog.refresh()
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
            started = time.monotonic()
            await self.publish()
            # coalesce whatever arrives meanwhile into the next frame, at most one per min_interval
            await asyncio.sleep(max(0.0, self.min_interval - (time.monotonic() - started)))


def ticking_clock(since: datetime | None) -> Markup:
    """A span the page counts up from ``since`` each second (so no frame is needed to tick)."""
    if since is None:
        return Markup("–")
    return Markup('<span class="clock" data-since="%d">–</span>') % int(as_utc(since).timestamp())


DEFAULT_WORKING_DAY = ("08:00", "20:00")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INTERVAL_MIN = int(INTERVAL.total_seconds() // 60)
INTERVALS_PER_HOUR = 60 // INTERVAL_MIN


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    return int(hours) * 60 + int(minutes or 0)


def working_day(calendars: Sequence[CalendarDefinition], day: date) -> tuple[int, int]:
    """The charts' window as 15-minute interval numbers since midnight, [first, last).

    The first business calendar's opening to closing on that weekday (a board charted from
    00:00 to now squeezes the day into a sliver), else 08:00-20:00 (weekends, no calendar,
    hours that do not parse). The seeded calendar from the settings: frames never wait for
    the database, and an edited calendar shifts the window only at the next start.
    """
    spans: list[tuple[int, int]] = []
    if calendars:
        for span in calendars[0].hours.get(DAY_KEYS[day.weekday()], []):
            opens, _, closes = span.partition("-")
            try:
                spans.append((_minutes(opens), _minutes(closes)))
            except ValueError:
                continue
    if not spans:
        spans = [(_minutes(DEFAULT_WORKING_DAY[0]), _minutes(DEFAULT_WORKING_DAY[1]))]
    first = min(o for o, _ in spans) // INTERVAL_MIN
    last = -(-max(c for _, c in spans) // INTERVAL_MIN)
    return first, max(last, first + 1)


def chart_window(first: int, last: int, busy: Sequence[int]) -> tuple[int, int]:
    """The working day, stretched to take in any interval that has traffic outside it."""
    return min([first, *busy]), max([last, *(i + 1 for i in busy)])


def hour_labels(first: int, last: int) -> list[str]:
    """A label on whole hours, every one, two or three hours so they never crowd."""
    span_h = (last - first) / INTERVALS_PER_HOUR
    step = 1 if span_h <= 6 else 2 if span_h <= 14 else 3
    return [f"{i // INTERVALS_PER_HOUR:02d}:00" if i % (INTERVALS_PER_HOUR * step) == 0 else ""
            for i in range(first, last)]


def present(figures: WallboardFigures, timezone: str,
            calendars: Sequence[CalendarDefinition] = ()) -> dict[str, Any]:
    """What the region templates show: figures plus the charts over the working day, drawn here once.

    ``timezone`` is kept for callers; the intervals already count from the board's local midnight.
    """
    calls = figures.calls
    count = max(len(calls.intervals), len(figures.emails_per_interval))
    offered_all = [calls.intervals[i].tally.offered if i < len(calls.intervals) else 0 for i in range(count)]
    emails_all = [figures.emails_per_interval[i] if i < len(figures.emails_per_interval) else 0 for i in range(count)]
    busy = [i for i in range(count) if offered_all[i] or emails_all[i]]
    first, last = chart_window(*working_day(calendars, calls.day), busy)
    window = range(first, last)
    labels = hour_labels(first, last)
    offered = [offered_all[i] if 0 <= i < count else 0 for i in window]
    emails = [emails_all[i] if 0 <= i < count else 0 for i in window]
    service = [calls.intervals[i].service_level_so_far if 0 <= i < len(calls.intervals) else None for i in window]
    return {
        "calls": calls,
        "backlog": figures.backlog,
        "alerts": figures.alerts,
        "names": figures.names,
        "work": figures.work,
        "satisfaction": figures.satisfaction,
        "contacts_chart": bar_chart("contacts", labels, [("calls", offered), ("emails", emails)]),
        "service_chart": line_chart("service level", labels, service, target=0.8),
        "since": ticking_clock,
    }


WALLBOARD: web.AppKey[WallboardFeed] = web.AppKey("wallboard", WallboardFeed)
