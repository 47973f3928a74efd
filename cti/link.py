"""One AMI connection per PBX: login, actions with ActionID, list results, dead-link detection.

The socket reader (``asyncio.Protocol.data_received``) never waits on anyone: it parses,
settles action replies at once (so Pings keep being answered while the tracker is busy),
and appends events to a ``FrameQueue`` that a separate consumer task drains. Asterisk
drops a client that does not read within ``writetimeout`` (100 ms by default), so
backpressure onto the socket is exactly what must not happen. The queue is bounded
in frames (default 100,000: a 5 s stall at 20,000 events/s, about 150 MB of parsed
frames at worst); only events the tracker wants are queued (most VarSet is dropped at
the door, by design and counted as ``ignored``), so at the real 3,000 events/s a
stall of well over a minute fits. If it still overflows, the frame is dropped,
counted in ``frontdesk_ami_overflow_total`` and the link reports itself degraded in
/readyz — never silent.

Nothing is ever re-sent: ActionIDs live and die with one TCP session. An action that
is pending when the link drops fails with ``PbxLinkDown`` to its caller, who decides
(a person clicking "call" sees the failure and may click again).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge

from core.clock import Clock, SystemClock
from core.supervisor import SupervisedTask
from cti.errors import PbxLinkDown, PbxLoginFailed, PbxRefused, PbxTimeout
from cti.parser import Frame, FrameReader, encode_action
from cti.settings import PbxSettings

log = logging.getLogger(__name__)

FRAMES = Counter("frontdesk_ami_frames_total", "AMI frames parsed", ["pbx"])
BAD_FRAMES = Counter("frontdesk_ami_bad_frames_total", "AMI frames that could not be parsed", ["pbx"])
OVERFLOW = Counter("frontdesk_ami_overflow_total", "AMI events dropped because the queue was full", ["pbx"])
READ_CHUNK = 32 * 1024  # bytes read from the AMI socket per loop turn (about 150 events)
QUEUE_DEPTH = Gauge("frontdesk_ami_queue_depth", "AMI events waiting for the call tracker", ["pbx"])
RECONNECTS = Counter("frontdesk_ami_connects_total", "AMI logins", ["pbx"])

# Actions that change calls: never retried by anyone but the person who asked.
NON_IDEMPOTENT = frozenset({"Originate", "Redirect", "Hangup", "Atxfer", "CancelAtxfer", "BlindTransfer", "QueueAdd", "QueueRemove"})


@dataclasses.dataclass(slots=True)
class ActionResult:
    response: Frame
    events: list[Frame] = dataclasses.field(default_factory=list)
    final: Frame | None = None  # e.g. the OriginateResponse event

    @property
    def message(self) -> str:
        return self.response.get("Message", "")


@dataclasses.dataclass(slots=True)
class Snapshot:
    """A list the PBX reported (``CoreShowChannels`` or ``QueueStatus``).

    It enters the queue at the exact stream position of its ``Complete`` event, so the
    tracker applies it after every event that preceded it and before every later one.
    """

    action: str
    items: list[Frame]


@dataclasses.dataclass(slots=True)
class LinkLost:
    """The session dropped at ``at``; queued behind every event read before it.

    A PBX that crashes sends no Hangup: the tracker ends the calls the next resync no
    longer finds at this moment, and shows phone states as unknown until then.
    """

    at: datetime


QueueItem = Frame | Snapshot | LinkLost


class FrameQueue:
    """Bounded FIFO between the socket reader and the tracker; overflow is counted."""

    def __init__(self, maxsize: int, pbx: str = "pbx") -> None:
        self.maxsize = maxsize
        self.items: collections.deque[QueueItem] = collections.deque()
        self.ready = asyncio.Event()
        self.overflow = 0
        self.high_water = 0
        self._overflow_metric = OVERFLOW.labels(pbx)

    def put(self, item: QueueItem) -> bool:
        if len(self.items) >= self.maxsize:
            self.overflow += 1
            self._overflow_metric.inc()
            if self.overflow == 1 or self.overflow % 1000 == 0:
                log.error("AMI event queue full (%d): %d events dropped so far", self.maxsize, self.overflow)
            return False
        self.items.append(item)
        if len(self.items) > self.high_water:
            self.high_water = len(self.items)
        self.ready.set()
        return True

    async def get_batch(self, limit: int = 500) -> list[QueueItem]:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        items = self.items
        if len(items) <= limit:
            batch = list(items)
            items.clear()
        else:
            batch = [items.popleft() for _ in range(limit)]
        return batch


@dataclasses.dataclass(slots=True)
class _Pending:
    action: str
    future: asyncio.Future[ActionResult]
    collect_list: bool
    final_event: str | None
    snapshot: bool = False
    response: Frame | None = None
    events: list[Frame] = dataclasses.field(default_factory=list)


class _Protocol(asyncio.BufferedProtocol):
    """Reads at most ``READ_CHUNK`` bytes a loop turn: a plain protocol gets up to 256 KiB from
    a busy PBX at once, and parsing a thousand frames in one callback held the loop ~10 ms."""

    def __init__(self, session: AmiSession) -> None:
        self.session = session
        self._buffer = bytearray(READ_CHUNK)
        self._view = memoryview(self._buffer)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self.session.data_received(bytes(self._view[:nbytes]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost(exc)


class AmiSession:
    """One TCP session: framing, ActionID correlation, and handing events to the queue."""

    _ids = itertools.count(1)

    def __init__(
        self,
        pbx: str,
        queue: FrameQueue,
        wants: Callable[[Frame], bool] = lambda _f: True,
        keep: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.pbx = pbx
        self.queue = queue
        self.wants = wants
        self.reader = FrameReader(keep=keep)  # ``keep``: the same door, on raw bytes (cti.prefilter)
        self.pending: dict[str, _Pending] = {}
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.banner = asyncio.get_running_loop().create_future()
        self.ignored = 0
        self.booted = 0
        self.on_fully_booted: Callable[[], None] | None = None
        self._prefix = f"fd{next(self._ids)}-"
        self._seq = itertools.count(1)
        self._frames_metric = FRAMES.labels(pbx)
        self._bad_metric = BAD_FRAMES.labels(pbx)

    async def open(self, host: str, port: int, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(deadline):
            transport, _ = await loop.create_connection(lambda: _Protocol(self), host, port)
            self.transport = transport
            await self.banner

    # -- reading ----------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        result = self.reader.feed(data)
        if result.banner and not self.banner.done():
            self.banner.set_result(None)
        if result.bad:
            self._bad_metric.inc(result.bad)
            for error in result.errors:
                log.warning("AMI %s: bad frame skipped: %s", self.pbx, error)
        if result.non_utf8:
            log.info("AMI %s: %d frame(s) were not UTF-8, decoded with replacement", self.pbx, result.non_utf8)
        frames = result.frames
        if result.skipped:
            self.ignored += result.skipped
            self._frames_metric.inc(result.skipped)
        if not frames:
            return
        self._frames_metric.inc(len(frames))
        pending = self.pending
        queue = self.queue
        wants = self.wants
        for frame in frames:
            event = frame.get("Event")
            if pending:
                action_id = frame.get("ActionID")
                if action_id is not None and action_id in pending and self._settle(pending[action_id], frame, event):
                    continue
            if event is None:
                continue  # a reply to an action that already timed out
            if event == "FullyBooted":
                self.booted += 1
                if self.on_fully_booted is not None:
                    self.on_fully_booted()
            if wants(frame):
                queue.put(frame)
            else:
                self.ignored += 1

    def _settle(self, p: _Pending, frame: Frame, event: str | None) -> bool:
        """Feed ``frame`` to its pending action; True when it belonged to the action."""
        if event is None:
            p.response = frame
            if frame.get("Response") == "Error":
                self._finish(p, PbxRefused(frame.get("Message") or f"{p.action} refused", {"action": p.action}))
            elif (p.collect_list and frame.get("EventList", "").lower() == "start") or (
                p.collect_list and "follow" in frame.get("Message", "")
            ):
                pass  # list items follow
            elif p.final_event is None:
                self._finish(p, ActionResult(frame))
            return True
        if p.final_event is not None and event == p.final_event:
            result = ActionResult(p.response or {}, p.events, frame)
            if frame.get("Response") == "Failure":
                self._finish(p, PbxRefused(f"{p.action} failed (reason {frame.get('Reason', '?')})", {"action": p.action, "reason": frame.get("Reason")}))
            else:
                self._finish(p, result)
            return True
        if p.collect_list and p.response is not None:
            if frame.get("EventList", "").lower() == "complete":
                if p.snapshot:
                    self.queue.put(Snapshot(p.action, p.events))
                self._finish(p, ActionResult(p.response, p.events, frame))
            else:
                p.events.append(frame)
            return True
        return False

    def _finish(self, p: _Pending, outcome: ActionResult | Exception) -> None:
        action_id = next((k for k, v in self.pending.items() if v is p), None)
        if action_id is not None:
            del self.pending[action_id]
        if p.future.done():
            return
        if isinstance(outcome, Exception):
            p.future.set_exception(outcome)
        else:
            p.future.set_result(outcome)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        reason = f"AMI link to {self.pbx} lost" + (f": {exc}" if exc else "")
        for p in list(self.pending.values()):
            if not p.future.done():
                p.future.set_exception(PbxLinkDown(f"{reason}; {p.action} was not confirmed and is not re-sent", {"action": p.action}))
        self.pending.clear()
        if not self.banner.done():
            self.banner.set_exception(PbxLinkDown(reason))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- actions ----------------------------------------------------------------------
    async def action(
        self,
        name: str,
        headers: dict[str, Any] | None = None,
        *,
        deadline: float = 10.0,
        collect_list: bool = False,
        final_event: str | None = None,
        snapshot: bool = False,
        action_id: str | None = None,
    ) -> ActionResult:
        """``action_id`` names the action when a later event must be matched to it (an
        asynchronous Originate's OriginateResponse carries only the ActionID when no channel
        could be made); it must be unique within the session."""
        if self.transport is None or self.transport.is_closing():
            raise PbxLinkDown(f"AMI link to {self.pbx} is down", {"action": name})
        action_id = action_id or f"{self._prefix}{next(self._seq)}"
        fields = {k: v for k, v in (headers or {}).items() if v is not None}
        fields["ActionID"] = action_id
        data = encode_action(name, fields)
        future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.pending[action_id] = _Pending(name, future, collect_list or snapshot, final_event, snapshot)
        self.transport.write(data)
        try:
            async with asyncio.timeout(deadline):
                return await future
        except TimeoutError:
            self.pending.pop(action_id, None)
            raise PbxTimeout(f"{name}: no answer from {self.pbx} within {deadline:g}s", {"action": name}) from None

    async def login(self, username: str, secret: str, md5: bool, events: str, deadline: float) -> None:
        headers: dict[str, Any] = {"Username": username, "Events": events}
        if md5:
            challenge = await self.action("Challenge", {"AuthType": "MD5"}, deadline=deadline)
            key = hashlib.md5((challenge.response.get("Challenge", "") + secret).encode()).hexdigest()
            headers.update({"AuthType": "MD5", "Key": key})
        else:
            headers["Secret"] = secret
        try:
            await self.action("Login", headers, deadline=deadline)
        except PbxRefused as exc:
            raise PbxLoginFailed(f"AMI login to {self.pbx} refused: {exc.message}") from None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


Sink = Callable[[list[QueueItem]], Awaitable[None]]


class AmiLink:
    """The supervised link to one PBX: connect, log in, resync, ping; feeds ``sink`` in order."""

    def __init__(
        self,
        settings: PbxSettings,
        sink: Sink,
        wants: Callable[[Frame], bool] = lambda _f: True,
        queue_size: int = 100_000,
        keep: Callable[[bytes], bool] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.name = settings.name
        self.sink = sink
        self.wants = wants
        self.keep = keep
        self.queue = FrameQueue(queue_size, settings.name)
        self.session: AmiSession | None = None
        self.connects = 0
        self.resyncs = 0
        self.consumed = 0
        self._resync_task: asyncio.Task[None] | None = None
        self._depth = QUEUE_DEPTH.labels(settings.name)

    @property
    def up(self) -> bool:
        return self.session is not None and self.session.transport is not None

    async def action(self, name: str, headers: dict[str, Any] | None = None, **kwargs: Any) -> ActionResult:
        session = self.session
        if session is None:
            raise PbxLinkDown(f"AMI link to {self.name} is down", {"action": name})
        kwargs.setdefault("deadline", self.settings.action_timeout)
        return await session.action(name, headers, **kwargs)

    # -- the consumer: drains the queue into the tracker, in order ---------------------
    async def consume(self) -> None:
        while True:
            batch = await self.queue.get_batch()
            self._depth.set(len(self.queue.items))
            try:
                await self.sink(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("AMI %s: the call tracker failed on a batch of %d events", self.name, len(batch))
            self.consumed += len(batch)

    # -- the supervised body: one session per run ---------------------------------------
    async def run(self, task: SupervisedTask) -> None:
        s = self.settings
        session = AmiSession(s.name, self.queue, self.wants, self.keep)
        session.on_fully_booted = self.request_resync
        try:
            await session.open(s.host, s.port, s.action_timeout)
            await session.login(s.username, s.secret.get_secret_value(), s.md5_auth, s.events, s.action_timeout)
            for expression in s.event_filter:
                await session.action("Filter", {"Operation": "Add", "Filter": expression}, deadline=s.action_timeout)
            self.session = session
            self.connects += 1
            RECONNECTS.labels(s.name).inc()
            log.info("AMI %s: logged in to %s:%d as %s", s.name, s.host, s.port, s.username)
            self.request_resync()
            task.healthy(self.health_detail())
            await self._keepalive(session, task)
        finally:
            if self.session is session:
                self.session = None
                self.queue.put(LinkLost(self.clock.now()))
            session.close()

    async def _keepalive(self, session: AmiSession, task: SupervisedTask) -> None:
        s = self.settings
        while not session.closed.done():
            done, _ = await asyncio.wait({session.closed}, timeout=s.ping_interval)
            if done:
                break
            try:
                await session.action("Ping", deadline=s.ping_timeout)
            except PbxTimeout:
                raise PbxLinkDown(f"no Pong from {self.name} within {s.ping_timeout:g}s: link considered dead") from None
            # Overflow is reported in the detail (and the metric); the link itself still works.
            task.healthy(self.health_detail())
        raise PbxLinkDown(f"AMI link to {self.name} closed by the PBX")

    def health_detail(self) -> str:
        detail = f"connected; {len(self.queue.items)} events queued"
        if self.queue.overflow:
            detail += f"; {self.queue.overflow} events DROPPED on queue overflow"
        if self.session is not None and self.session.reader.bad:
            detail += f"; {self.session.reader.bad} bad frames"
        return detail

    # -- resynchronisation ---------------------------------------------------------------
    def request_resync(self) -> None:
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.create_task(self.resync(), name=f"ami-resync-{self.name}")

    async def resync(self) -> None:
        """Ask the PBX what exists now; the snapshot enters the queue behind earlier events."""
        session = self.session
        if session is None:
            return
        try:
            await session.action("QueueStatus", snapshot=True, deadline=self.settings.action_timeout)
            await session.action("CoreShowChannels", snapshot=True, deadline=self.settings.action_timeout)
        except (PbxLinkDown, PbxTimeout, PbxRefused) as exc:
            log.warning("AMI %s: resync failed: %s", self.name, exc)
            return
        self.resyncs += 1

    async def close(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
        if self.session is not None:
            self.session.close()
