"""Domain events that reach every server instance: the local bus plus a transport between instances.

``publish`` delivers to this instance's subscribers at once (as ``InProcessBus`` does), then
queues the event's frames (``core.bus_wire``) for the transport: PostgreSQL ``NOTIFY`` or Redis
``PUBLISH``. A listener on every instance hands the frames of *other* instances to the
subscribers that asked for ``everywhere`` (its own come back too and are skipped: no double
delivery). One sender task writes each frame in publish order on one connection, and one
listener connection reads them in order, so the events of one ticket or one call — published
by the instance that holds it — arrive everywhere in the order they happened.

Both loops are supervised. A listener that comes back after losing its connection cannot know
what it missed: it runs the ``on_resync`` callbacks (consoles and wallboards read their state
again); so does a gap in an origin's sequence numbers (a sender that dropped frames). Frames
a sender could not write stay queued (bounded) and go out once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from prometheus_client import Counter, Histogram

from core.bus_wire import Reassembler, UnknownEvent, decode_event, event_body, frames
from core.events import DomainEvent, E, Handler, Resync, run_handler
from core.health import HealthRegistry
from core.supervisor import Backoff, SupervisedTask

log = logging.getLogger(__name__)

EVENT_LAG = Histogram(
    "frontdesk_cluster_event_lag_seconds", "Publish on one instance to delivery on another",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RECONNECTS = Counter("frontdesk_cluster_bus_reconnects_total", "Cluster bus listener connections re-opened after a loss")
RESYNCS = Counter("frontdesk_cluster_bus_resyncs_total", "Times consoles and wallboards were told to read their state again",
                  ["reason"])
FRAMES = Counter("frontdesk_cluster_bus_frames_total", "Cluster bus frames sent and received", ["direction"])
DROPPED = Counter("frontdesk_cluster_bus_dropped_total", "Events not sent to other instances (send queue full)")

OUTBOX_LIMIT = 20_000  # frames waiting for the sender; past it new events stay local (receivers resync)
BATCH = 256  # frames written in one round trip


class BusTransport(Protocol):
    """How frames travel between instances (``core.bus_postgres``, ``core.bus_redis``)."""

    backend: str
    limit: int  # characters per frame

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        """Receive frames until the connection is lost (then raise); ``ready`` once listening."""

    async def send(self, payloads: Sequence[str]) -> None:
        """Write ``payloads`` in order (connecting if needed); raise if they may not have gone."""

    async def close(self) -> None: ...


class ClusterBus:
    """The ``EventBus`` of a server that shares its events with the other instances."""

    def __init__(self, instance_id: str, transport: BusTransport, health: HealthRegistry,
                 max_backoff_s: float = 5.0) -> None:
        self.instance_id = instance_id
        self.boot = secrets.token_hex(4)
        self.transport = transport
        self.health = health
        self._handlers: dict[type[DomainEvent], list[tuple[Handler, bool]]] = defaultdict(list)
        self._resync: list[Resync] = []
        self._seq = 0
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._unsent: list[str] = []  # a batch whose write failed: first out after the reconnect
        self._sent_all = asyncio.Event()  # nothing queued or unsent
        self._sent_all.set()
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._reassembler = Reassembler()
        self._last_seq: dict[tuple[str, str], int] = {}
        self._listened_before = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._resyncing: asyncio.Task[None] | None = None
        self.published = 0
        self.received = 0
        self.reconnects = 0
        self.resyncs = 0
        self.dropped = 0
        self.peers: dict[str, float] = {}  # instance id -> when its last event arrived (monotonic)
        self.listener = SupervisedTask("cluster-bus-listen", self._listen, health,
                                       Backoff(0.2, max_backoff_s), required=False, degrade_after=3)
        self.sender = SupervisedTask("cluster-bus-send", self._send, health,
                                     Backoff(0.2, max_backoff_s), required=False, degrade_after=3)

    @property
    def identity(self) -> str:
        """This bus among all (two apps of one process, or a restart keeping its id, stay apart)."""
        return f"{self.instance_id}#{self.boot}"

    # -- the EventBus ---------------------------------------------------------------------
    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]], *,
                  everywhere: bool = False) -> None:
        self._handlers[event_type].append((handler, everywhere))

    def on_resync(self, callback: Resync) -> None:
        self._resync.append(callback)

    async def publish(self, event: DomainEvent) -> None:
        self.published += 1
        self._seq += 1
        self._queue_frames(event, self._seq)
        await self._deliver(event, remote=False)

    def _queue_frames(self, event: DomainEvent, seq: int) -> None:
        try:
            out = frames(event_body(event), self.instance_id, self.boot, seq, int(time.time() * 1000), self.transport.limit)
        except (TypeError, ValueError):
            log.exception("event %s cannot be sent to the other instances", event.name)
            return
        if self._outbox.qsize() + len(out) > OUTBOX_LIMIT:
            self.dropped += 1
            DROPPED.inc()
            return
        for text in out:
            self._outbox.put_nowait(text)
        self._sent_all.clear()

    async def _deliver(self, event: DomainEvent, remote: bool) -> None:
        for handler, everywhere in (*self._handlers.get(type(event), ()), *self._handlers.get(DomainEvent, ())):
            if remote and not everywhere:
                continue
            await run_handler(handler, event)

    # -- life -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """connected, connecting, or reconnecting (after a loss) — for /readyz."""
        component = self.health.get(self.listener.name)
        if component is not None and component.ok:
            return "connected"
        return "reconnecting" if self._listened_before else "connecting"

    def describe(self) -> dict[str, object]:
        """What /readyz says of the bus."""
        now = time.monotonic()
        return {"instance": self.instance_id, "backend": self.transport.backend, "state": self.state,
                "peers": sorted(p for p, at in self.peers.items() if now - at < 300),
                "published": self.published, "received": self.received, "reconnects": self.reconnects,
                "resyncs": self.resyncs, "send_queue": self._outbox.qsize() + len(self._unsent), "dropped": self.dropped}

    def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(), name="cluster-bus-dispatch")
        self.listener.start()
        self.sender.start()

    async def stop(self, flush_s: float = 1.0) -> None:
        """Stop listening, give the sender up to ``flush_s`` to write what is queued (the last
        events before a drain still reach the other instances), then close."""
        await self.listener.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_s):
                await self._sent_all.wait()
        await self.sender.stop()
        for task in (self._dispatcher, self._resyncing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.transport.close()

    # -- sending --------------------------------------------------------------------------
    async def _send(self, task: SupervisedTask) -> None:
        task.healthy(f"sending over {self.transport.backend}")
        while True:
            if not self._unsent:
                self._unsent.append(await self._outbox.get())
                while len(self._unsent) < BATCH and not self._outbox.empty():
                    self._unsent.append(self._outbox.get_nowait())
            await self.transport.send(self._unsent)
            FRAMES.labels("sent").inc(len(self._unsent))
            self._unsent = []
            if self._outbox.empty():
                self._sent_all.set()
            task.healthy(f"sending over {self.transport.backend}")

    # -- receiving ------------------------------------------------------------------------
    async def _listen(self, task: SupervisedTask) -> None:
        def ready() -> None:
            task.healthy(f"listening over {self.transport.backend}")
            if self._listened_before:
                self.reconnects += 1
                RECONNECTS.inc()
                self.resync("reconnected")
            self._listened_before = True

        await self.transport.listen(self._inbox.put_nowait, ready)

    async def _dispatch(self) -> None:
        """One task hands the frames on in the order they came (per ticket, per call)."""
        while True:
            text = await self._inbox.get()
            try:
                await self._receive(text)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster bus: a frame could not be handled")

    async def _receive(self, text: str) -> None:
        FRAMES.labels("received").inc()
        broken = self._reassembler.broken
        try:
            whole = self._reassembler.feed(text)
        except ValueError:
            log.warning("cluster bus: ignored a frame that is not ours (%d characters)", len(text))
            return
        if self._reassembler.broken != broken:
            self.resync("lost-frames")
        if whole is None or whole.boot == self.boot:
            return
        key = (whole.origin, whole.boot)
        last = self._last_seq.get(key)
        if last is not None and whole.seq <= last:
            return  # sent twice (a write retried after a lost reply)
        self._last_seq[key] = whole.seq
        if last is not None and whole.seq != last + 1:
            self.resync("sequence-gap")
        self.peers[whole.origin] = time.monotonic()
        EVENT_LAG.observe(max(0.0, time.time() - whole.sent_ms / 1000))
        try:
            event = decode_event(whole.body)
        except UnknownEvent as exc:
            log.debug("cluster bus: %s from %s", exc, whole.origin)
            return
        self.received += 1
        await self._deliver(event, remote=True)

    def resync(self, reason: str) -> None:
        """Tell the ``on_resync`` callbacks (in the background: the frames keep flowing)."""
        self.resyncs += 1
        RESYNCS.labels(reason).inc()
        log.info("cluster bus: events from other instances may have been missed (%s): resynchronising", reason)
        if self._resyncing is None or self._resyncing.done():
            self._resyncing = asyncio.create_task(self._run_resync(), name="cluster-bus-resync")

    async def _run_resync(self) -> None:
        for callback in list(self._resync):
            try:
                await callback()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster bus: resync callback %r failed", callback)
