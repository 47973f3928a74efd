"""Wallboard fan-out: one frame for all viewers, a viewer that stopped reading is dropped."""

from __future__ import annotations

import asyncio
import struct
from typing import Any, cast

from aiohttp import web

from agent_ui.live.broadcast import BroadcastHub, text_frame
from core.auth import Actor
from core.records import Role


class Transport:
    """A socket's transport: what was written, and how much the peer left unread."""

    def __init__(self, unread: int = 0) -> None:
        self.written: list[bytes] = []
        self.unread = unread
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.unread

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


class Socket:
    def __init__(self) -> None:
        self.closed = False
        self.closed_with: int | None = None

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed, self.closed_with = True, code
        return True


def viewer(hub: BroadcastHub, transport: Transport, first: str = "{}") -> tuple[Socket, Any]:
    sock = Socket()
    return sock, hub.attach(cast(web.WebSocketResponse, sock), Actor(None, "tv", frozenset({Role.SUPERVISOR})),
                            cast(asyncio.Transport, transport), first)


def decode(data: bytes) -> list[str]:
    """The text messages a browser reads from these bytes (RFC 6455 framing, server to client)."""
    messages = []
    while data:
        assert data[0] == 0x81 and not data[1] & 0x80  # final text frame, unmasked
        size, at = data[1], 2
        if size == 126:
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        messages.append(data[at:at + size].decode())
        data = data[at + size:]
    return messages


async def test_every_viewer_gets_the_same_frames_and_a_stalled_one_is_dropped() -> None:
    hub = BroadcastHub(max_buffered=1000)
    reading, stalled = Transport(), Transport()
    viewer(hub, reading, '{"n": "first"}')
    stalled_sock, _ = viewer(hub, stalled)
    texts = ["x" * 10, "é" * 100, "y" * 70000]  # the three header sizes
    for n, text in enumerate(texts):
        if n == 1:
            stalled.unread = 5000  # it stopped reading: its bytes pile up
        assert hub.deliver(text) == (2 if n == 0 else 1)
    await asyncio.sleep(0)
    assert decode(b"".join(reading.written)) == ['{"n": "first"}', *texts]
    assert hub.connections == 1 and hub.dropped == 1
    assert stalled_sock.closed_with == 1013 and stalled.aborted
    await hub.close_all()


def test_a_frame_is_one_final_text_frame() -> None:
    assert text_frame("hi") == b"\x81\x02hi"
    assert text_frame("a" * 200)[:4] == b"\x81\x7e\x00\xc8"
