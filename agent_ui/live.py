"""Live updates to browsers: domain events pushed over an authenticated WebSocket.

``LiveHub`` subscribes to every ``DomainEvent`` on the bus. An event with a
``user_ids`` field goes only to those users' connections (a screen-pop to the
ringing agent); every other event goes to all connected staff. Each connection has
a bounded queue and its own writer task, so publishing never awaits a socket: a
client whose queue is full is closed and counted, and the others never wait for it.
With ``fanout_slice`` (the console's hub), an event for everyone is handed to about that
many connections per loop turn: each hand-over wakes a writer, and 500 socket writes in
one turn (20-35 ms) would hold up everything else, a screen-pop included. Events for
named users are queued at once, so they may overtake a broadcast still being handed out.
Wire shape: ``{"event": name, "data": {...}}``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMsgType, web

from agent_ui.identity import actor_of, same_origin, signed_in
from agent_ui.keys import LIVE_HUB
from agent_ui.slow_clients import SlowClientCloser
from agent_ui.web_metrics import LIVE_CONNECTIONS, LIVE_MESSAGES
from core.auth import Actor
from core.errors import Forbidden
from core.events import DomainEvent

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def encode(event: DomainEvent) -> str:
    return json.dumps({"event": event.name, "data": dataclasses.asdict(event)}, default=_json_default)


def recipients_of(event: DomainEvent) -> tuple[int, ...] | None:
    """The users an event is addressed to, or None for everyone."""
    user_ids = getattr(event, "user_ids", None)
    return None if user_ids is None else tuple(user_ids)


class LiveConnection:
    """One browser tab: its queue of encoded messages and the task that writes them."""

    def __init__(self, ws: web.WebSocketResponse, actor: Actor, queue_size: int) -> None:
        self.ws = ws
        self.actor = actor
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.writer: asyncio.Task[None] | None = None

    def offer(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def pump(self) -> None:
        try:
            while True:
                text = await self.queue.get()
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):  # the client went away: the reader ends the socket
            log.debug("live client of %s is gone", self.actor.login)


class LiveHub:
    def __init__(self, queue_size: int = QUEUE_SIZE, fanout_slice: int | None = None) -> None:
        self.queue_size = queue_size
        self.fanout_slice = fanout_slice
        self._connections: set[LiveConnection] = set()
        self._closer = SlowClientCloser()
        self._bulk: collections.deque[str] = collections.deque()
        self._fanout: asyncio.Task[None] | None = None

    @property
    def dropped(self) -> int:
        return self._closer.dropped

    @property
    def connections(self) -> int:
        return len(self._connections)

    def attach(self, ws: web.WebSocketResponse, actor: Actor) -> LiveConnection:
        conn = LiveConnection(ws, actor, self.queue_size)
        conn.writer = asyncio.create_task(conn.pump(), name=f"live-writer-{actor.login}")
        self._connections.add(conn)
        LIVE_CONNECTIONS.inc()
        return conn

    def detach(self, conn: LiveConnection) -> None:
        if conn in self._connections:
            self._connections.remove(conn)
            LIVE_CONNECTIONS.dec()
        if conn.writer is not None:
            conn.writer.cancel()

    def _targets(self, user_ids: tuple[int, ...] | None) -> Iterable[LiveConnection]:
        if user_ids is None:
            return list(self._connections)
        wanted = set(user_ids)
        return [c for c in self._connections if c.actor.user_id in wanted]

    async def on_event(self, event: DomainEvent) -> None:
        """Bus handler: queue the event for its recipients without awaiting any socket."""
        self.deliver(encode(event), recipients_of(event))

    def deliver(self, text: str, user_ids: tuple[int, ...] | None = None) -> int:
        if user_ids is None and self.fanout_slice is not None and len(self._connections) > self.fanout_slice:
            self._bulk.append(text)
            if self._fanout is None or self._fanout.done():
                self._fanout = asyncio.create_task(self._fan_out(self.fanout_slice), name="live-fan-out")
            return len(self._connections)  # all of them, a slice per loop turn
        sent = 0
        for conn in self._targets(user_ids):
            if conn.offer(text):
                sent += 1
            else:
                self._drop(conn)
        LIVE_MESSAGES.inc(sent)
        return sent

    async def _fan_out(self, per_turn: int) -> None:
        """Hand the queued broadcasts to every connection, about ``per_turn`` messages a loop turn."""
        while self._bulk:
            texts = list(self._bulk)
            self._bulk.clear()
            targets = list(self._connections)
            step = max(1, per_turn // len(texts))
            for start in range(0, len(targets), step):
                sent = 0
                for conn in targets[start:start + step]:
                    if conn not in self._connections:
                        continue
                    for text in texts:
                        if not conn.offer(text):
                            self._drop(conn)
                            break
                        sent += 1
                LIVE_MESSAGES.inc(sent)
                await asyncio.sleep(0)

    def _drop(self, conn: LiveConnection) -> None:
        log.warning("live client of %s fell behind (%d queued): closing it", conn.actor.login, conn.queue.qsize())
        self.detach(conn)
        self._closer.drop(conn.ws)

    async def close_all(self) -> None:
        """At shutdown: close every socket at once (each bounded by ``CLOSE_TIMEOUT``)."""
        if self._fanout is not None:
            self._fanout.cancel()
        connections = list(self._connections)
        for conn in connections:
            self.detach(conn)
        await self._closer.close_all((conn.ws, None) for conn in connections)


async def live_socket(request: web.Request) -> web.StreamResponse:
    """``GET /ws``: the console's live feed (session cookie or API token)."""
    actor = actor_of(request)
    who = signed_in(request)
    if who is not None and not who.via_token and not same_origin(request):
        raise Forbidden("the live feed only serves this site's own pages", {"origin": request.headers.get("Origin")})
    hub = request.app[LIVE_HUB]
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    conn = hub.attach(ws, actor)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                conn.offer('{"event": "pong", "data": {}}')
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.detach(conn)
    return ws
