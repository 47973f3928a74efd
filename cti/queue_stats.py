"""Queue figures for the wallboard, counted from our own call events and records.

``QueueStats`` keeps today's tally per queue in memory: it is seeded from the ``calls``
and ``agent_states`` tables at start-up (so a restart loses nothing) and then follows the
CTI's domain events (``CallAnswered``, ``CallEnded``, ``AgentStateChanged``). Calls still
waiting come from the trackers' live calls. Asterisk's own queue counters are never read.

Formulas (``ServiceLevelRule``; shown on the wallboard):

* offered = answered + abandoned + timed out (queue calls that left the queue today)
* service level = answered within T s ÷ (offered − abandoned within S s)
* ASA = queue wait of the answered calls ÷ answered
* abandon rate = abandoned ÷ offered
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, as_utc
from core.events import DomainEvent
from core.measure import ratio
from cti.control import PbxLine
from cti.events import AgentStateChanged, CallAnswered, CallEnded
from cti.records import AgentStateLog, CallRecord

log = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=15)
INTERVALS_PER_DAY = 96
AGENT_STATES = ("ready", "on-call", "wrap-up", "paused", "logged-out")
LEFT_WITHOUT_AGENT = ("abandoned", "timeout")


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceLevelRule:
    threshold_s: float = 20.0
    short_abandon_s: float = 5.0


@dataclasses.dataclass(slots=True)
class Tally:
    """Counts of queue calls that left the queue (one queue, or one 15-minute interval)."""

    answered: int = 0
    answered_in_threshold: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    timeouts: int = 0
    answered_wait_s: float = 0.0

    @property
    def offered(self) -> int:
        return self.answered + self.abandoned + self.timeouts

    @property
    def service_level(self) -> float | None:
        counted = self.offered - self.short_abandons
        return ratio(self.answered_in_threshold, counted)

    @property
    def asa_s(self) -> float | None:
        return ratio(self.answered_wait_s, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned, self.offered)

    def add(self, outcome: str, wait_s: float, rule: ServiceLevelRule) -> None:
        if outcome == "answered":
            self.answered += 1
            self.answered_wait_s += wait_s
            self.answered_in_threshold += wait_s <= rule.threshold_s
        elif outcome == "abandoned":
            self.abandoned += 1
            self.short_abandons += wait_s < rule.short_abandon_s
        elif outcome == "timeout":
            self.timeouts += 1

    def merge(self, other: Tally) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclasses.dataclass(frozen=True, slots=True)
class WaitingCall:
    queue: str
    joined_at: datetime


@dataclasses.dataclass(slots=True)
class AgentPresence:
    pbx: str
    interface: str
    user_id: int | None
    state: str
    reason: str
    since: datetime
    queues: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class QueueFigures:
    queue: str | None  # None: all queues
    waiting: int
    oldest_joined_at: datetime | None
    longest_wait_s: float
    tally: Tally
    agents: dict[str, int]
    paused_reasons: dict[str, int]  # paused agents by the reason they gave

    @property
    def offered(self) -> int:
        return self.tally.offered


@dataclasses.dataclass(frozen=True, slots=True)
class IntervalFigures:
    start: datetime
    tally: Tally
    service_level_so_far: float | None  # from the start of the day to the end of this interval


@dataclasses.dataclass(frozen=True, slots=True)
class CallBoard:
    day: date
    now: datetime
    rule: ServiceLevelRule
    overall: QueueFigures
    queues: list[QueueFigures]
    agents: list[AgentPresence]
    intervals: list[IntervalFigures]


WaitingSource = Callable[[], Iterable[WaitingCall]]


class QueueStats:
    """Today's queue figures, kept current from CTI events (subscribe ``on_event`` to ``EVENTS``)."""

    EVENTS = (CallAnswered, CallEnded, AgentStateChanged)

    def __init__(self, clock: Clock, zone: ZoneInfo, rule: ServiceLevelRule | None = None,
                 waiting: WaitingSource | None = None) -> None:
        self.clock = clock
        self.zone = zone
        self.rule = rule or ServiceLevelRule()
        self.waiting_source = waiting or (lambda: ())
        self.day = self._today()
        self._queues: dict[str, Tally] = {}
        self._intervals: dict[int, Tally] = {}
        self._counted: set[tuple[str, str]] = set()
        self._agents: dict[tuple[str, str], AgentPresence] = {}
        self.version = 0
        self.listeners: list[Callable[[], None]] = []

    # -- time -------------------------------------------------------------------------------
    def _today(self) -> date:
        return as_utc(self.clock.now()).astimezone(self.zone).date()

    def day_start(self, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(), self.zone).astimezone(ZoneInfo("UTC"))

    def _roll_over(self) -> None:
        today = self._today()
        if today != self.day:
            self.day = today
            self._queues.clear()
            self._intervals.clear()
            self._counted.clear()

    def _interval_of(self, at: datetime) -> int:
        return int((as_utc(at) - self.day_start()) // INTERVAL)

    # -- feeding ----------------------------------------------------------------------------
    def count_call(self, pbx: str, linkedid: str, queue: str | None, outcome: str, wait_s: float,
                   left_queue_at: datetime) -> bool:
        """One queue call that left its queue (answered, abandoned or timed out), counted once."""
        self._roll_over()
        if queue is None or outcome not in ("answered", *LEFT_WITHOUT_AGENT) or (pbx, linkedid) in self._counted:
            return False
        index = self._interval_of(left_queue_at)
        if not 0 <= index < INTERVALS_PER_DAY:
            return False
        self._counted.add((pbx, linkedid))
        self._queues.setdefault(queue, Tally()).add(outcome, wait_s, self.rule)
        self._intervals.setdefault(index, Tally()).add(outcome, wait_s, self.rule)
        return True

    def set_agent(self, pbx: str, interface: str, user_id: int | None, state: str, reason: str,
                  since: datetime, queues: tuple[str, ...] | None = None) -> None:
        known = self._agents.get((pbx, interface))
        self._agents[(pbx, interface)] = AgentPresence(
            pbx, interface, user_id, state, reason, as_utc(since),
            queues if queues is not None else (known.queues if known else ()))

    async def on_event(self, event: DomainEvent) -> None:
        """Bus handler for the CTI events that change a figure."""
        now = self.clock.now()
        changed = False
        if isinstance(event, CallAnswered):
            changed = self.count_call(event.pbx, event.linkedid, event.queue, "answered", event.wait_s, now)
        elif isinstance(event, CallEnded):
            at = datetime.fromisoformat(event.ended_at) if event.ended_at else now
            if event.outcome == "answered" and event.answered_at:
                at = datetime.fromisoformat(event.answered_at)
            changed = self.count_call(event.pbx, event.linkedid, event.queue, event.outcome, event.wait_s, at)
        elif isinstance(event, AgentStateChanged):
            self.set_agent(event.pbx, event.interface, event.user_id, event.state, event.reason, now, event.queues)
            changed = True
        if changed:
            self.changed()

    def changed(self) -> None:
        self.version += 1
        for listener in self.listeners:
            listener()

    async def load(self, session: AsyncSession) -> None:
        """Seed today's tally and each line's current state from the recorded calls and states."""
        self._roll_over()
        start = self.day_start()
        calls = select(CallRecord).where(
            CallRecord.queue.is_not(None),
            or_(CallRecord.answered_at >= start,
                (CallRecord.ended_at >= start) & CallRecord.outcome.in_(LEFT_WITHOUT_AGENT)),
        )
        for record in (await session.execute(calls)).scalars():
            if record.answered_at is not None:
                wait = record.wait_s
                if not wait and record.outcome is None:  # still talking: the wait is not recorded yet
                    wait = (as_utc(record.answered_at) - as_utc(record.joined_at or record.started_at)).total_seconds()
                self.count_call(record.pbx, record.linkedid, record.queue, "answered", max(0.0, wait), record.answered_at)
            elif record.outcome is not None and record.ended_at is not None:
                self.count_call(record.pbx, record.linkedid, record.queue, record.outcome, record.wait_s, record.ended_at)
        latest = select(func.max(AgentStateLog.id)).group_by(AgentStateLog.pbx, AgentStateLog.interface)
        rows = await session.execute(select(AgentStateLog).where(AgentStateLog.id.in_(latest)))
        for row in rows.scalars():
            self.set_agent(row.pbx, row.interface, row.user_id, row.state, row.reason, row.started_at)
        self.changed()

    # -- reading ----------------------------------------------------------------------------
    def presence_of(self, user_id: int) -> AgentPresence | None:
        """A person's phone line as the PBX last reported it (the console's status bar)."""
        return next((a for a in self._agents.values() if a.user_id == user_id), None)

    def board(self) -> CallBoard:
        self._roll_over()
        now = as_utc(self.clock.now())
        waiting: dict[str, list[datetime]] = {}
        for call in self.waiting_source():
            waiting.setdefault(call.queue, []).append(as_utc(call.joined_at))
        agents = sorted(self._agents.values(), key=lambda a: (AGENT_STATES.index(a.state) if a.state in AGENT_STATES else 9,
                                                               a.since))
        names = sorted({*self._queues, *waiting, *(q for a in agents for q in a.queues)})
        queues = [self._figures(name, now, waiting.get(name, []), self._queues.get(name, Tally()),
                                [a for a in agents if name in a.queues]) for name in names]
        total = Tally()
        for tally in self._queues.values():
            total.merge(tally)
        overall = self._figures(None, now, [t for times in waiting.values() for t in times], total, agents)
        return CallBoard(self.day, now, self.rule, overall, queues, agents, self._interval_figures())

    def _figures(self, queue: str | None, now: datetime, joined: list[datetime], tally: Tally,
                 agents: list[AgentPresence]) -> QueueFigures:
        oldest = min(joined, default=None)
        by_state = dict.fromkeys(AGENT_STATES, 0)
        reasons: dict[str, int] = {}
        for agent in agents:
            by_state[agent.state] = by_state.get(agent.state, 0) + 1
            if agent.state == "paused":
                reasons[agent.reason or "–"] = reasons.get(agent.reason or "–", 0) + 1
        return QueueFigures(queue, len(joined), oldest, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
                            dataclasses.replace(tally), by_state, dict(sorted(reasons.items())))

    def _interval_figures(self) -> list[IntervalFigures]:
        start = self.day_start()
        last = max(self._intervals, default=-1)
        running = Tally()
        out = []
        for index in range(last + 1):
            tally = self._intervals.get(index, Tally())
            running.merge(tally)
            out.append(IntervalFigures(start + index * INTERVAL, dataclasses.replace(tally), running.service_level))
        return out


def tracker_waiting(lines: Iterable[PbxLine]) -> WaitingSource:
    """Calls in a queue that no agent has answered yet, read from the CTI's live trackers."""

    def waiting() -> Iterable[WaitingCall]:
        for line in lines:
            for call in list(line.tracker.calls.values()):
                if call.queue and call.joined_at is not None and call.answered_at is None and call.direction == "inbound":
                    yield WaitingCall(call.queue, call.joined_at)

    return waiting
