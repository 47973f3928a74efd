"""Closing live sockets without waiting on them: a client that fell behind, and all at shutdown.

The console's ``LiveHub`` and the wallboard's ``BroadcastHub`` fan out differently, but drop
a slow client alike: counted, closed with 1013 in the background (bounded by
``CLOSE_TIMEOUT``), and every close still running is awaited at shutdown. At shutdown
(``SIGTERM``: the instance is drained) every socket is closed with 1012, "reconnect
elsewhere": the pages reconnect at once, through the load balancer, to another instance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiohttp import web

from agent_ui.base.web_metrics import LIVE_DROPPED

CLOSE_TIMEOUT = 2.0
TOO_SLOW = 1013  # "try again later": the client fell behind
GOING_ELSEWHERE = 1012  # "service restart": this instance is going away, reconnect (to another one)
REASONS = {TOO_SLOW: b"too slow", GOING_ELSEWHERE: b"reconnect elsewhere"}

Socket = tuple[web.WebSocketResponse, asyncio.Transport | None]


async def close_socket(ws: web.WebSocketResponse, transport: asyncio.Transport | None = None,
                       code: int = TOO_SLOW) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code=code, message=REASONS.get(code, b"signed out"))
    if transport is not None and not transport.is_closing():  # it never read the close either
        transport.abort()


class SlowClientCloser:
    def __init__(self) -> None:
        self._closing: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def drop(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None = None,
             code: int = TOO_SLOW) -> None:
        """Close the client in the background: the fan-out never waits on it. A client too slow
        (``TOO_SLOW``) is counted as dropped; one closed for another reason is not."""
        if code == TOO_SLOW:
            self.dropped += 1
            LIVE_DROPPED.inc()
        task = asyncio.create_task(close_socket(ws, transport, code))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_all(self, sockets: Iterable[Socket]) -> None:
        """At shutdown: close ``sockets`` at once ("reconnect elsewhere"), and wait for the drops still closing."""
        await asyncio.gather(*(close_socket(ws, transport, GOING_ELSEWHERE) for ws, transport in sockets),
                             *self._closing)
