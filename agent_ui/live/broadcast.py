"""One text frame to many WebSocket viewers: encoded once, written to each socket without awaiting.

``LiveHub`` gives each connection a queue and a writer task; at a thousand wallboard
viewers that is a thousand task wake-ups and frame encodings per frame (about 30 ms of a
blocked event loop). A wallboard frame is the same bytes for every viewer of a language,
so ``BroadcastHub`` builds the WebSocket frame once and hands it to each socket's
transport, which buffers it in the kernel or in memory. A viewer whose transport holds
more than ``max_buffered`` bytes unsent has stopped reading: it is closed (code 1013)
and counted, so a stalled TV never holds memory or holds back the rest.

Frames go out uncompressed (RSV1 clear), which RFC 7692 allows even when the viewer
negotiated permessage-deflate; aiohttp's own writer still sends pings and the close.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from aiohttp import web

from agent_ui.base.web_metrics import LIVE_CONNECTIONS, LIVE_MESSAGES
from agent_ui.live.slow_clients import SlowClientCloser
from core.auth import Actor

log = logging.getLogger(__name__)

FIN_TEXT = 0x81  # final fragment, text opcode


def text_frame(text: str) -> bytes:
    """A server-to-client WebSocket text frame (unmasked, unfragmented, uncompressed)."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, size)
    return header + payload


class Viewer:
    """One viewer's socket and the transport its frames are written to."""

    __slots__ = ("actor", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, actor: Actor, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.actor = actor
        self.transport = transport


class BroadcastHub:
    def __init__(self, max_buffered: int) -> None:
        self.max_buffered = max_buffered
        self._viewers: set[Viewer] = set()
        self._closer = SlowClientCloser()

    @property
    def dropped(self) -> int:
        return self._closer.dropped

    @property
    def connections(self) -> int:
        return len(self._viewers)

    def attach(self, ws: web.WebSocketResponse, actor: Actor, transport: asyncio.Transport, first: str) -> Viewer:
        """Send ``first`` (the full board) to a new viewer, then include it in every frame."""
        viewer = Viewer(ws, actor, transport)
        if self._write(viewer, text_frame(first)):
            self._viewers.add(viewer)
            LIVE_CONNECTIONS.inc()
        return viewer

    def detach(self, viewer: Viewer) -> None:
        if viewer in self._viewers:
            self._viewers.remove(viewer)
            LIVE_CONNECTIONS.dec()

    def deliver(self, text: str) -> int:
        """Write one frame to every viewer now; the ones too far behind are dropped."""
        frame = text_frame(text)
        sent = 0
        for viewer in list(self._viewers):
            if self._write(viewer, frame):
                sent += 1
            else:
                self._drop(viewer)
        LIVE_MESSAGES.inc(sent)
        return sent

    def end_user(self, user_id: int, code: int) -> int:
        """Close the viewers of a person whose logins ended (closed with ``code``, in the background)."""
        gone = [v for v in self._viewers if v.actor.user_id == user_id]
        for viewer in gone:
            self.detach(viewer)
            self._closer.drop(viewer.ws, viewer.transport, code)
        return len(gone)

    def _write(self, viewer: Viewer, frame: bytes) -> bool:
        transport = viewer.transport
        if viewer.ws.closed or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.max_buffered:
            return False
        transport.write(frame)
        return True

    def _drop(self, viewer: Viewer) -> None:
        self.detach(viewer)
        if viewer.ws.closed or viewer.transport.is_closing():
            return  # it left: its handler ends the socket
        log.warning("wallboard viewer %s fell behind (%d bytes unsent): closing it",
                    viewer.actor.login, viewer.transport.get_write_buffer_size())
        self._closer.drop(viewer.ws, viewer.transport)

    async def close_all(self) -> None:
        """At shutdown: close every socket at once (each bounded by ``CLOSE_TIMEOUT``)."""
        viewers = list(self._viewers)
        for viewer in viewers:
            self.detach(viewer)
        await self._closer.close_all((viewer.ws, viewer.transport) for viewer in viewers)
