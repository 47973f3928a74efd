"""The agents' consoles of ``frontdesk bench ami``: thousands of WebSockets in one process.

A browser per agent reads its own socket on its own CPU. Here 2,000 of them share one
process (and, on a small machine, a core with the server): read through ``aiohttp``'s
client, every queue-list frame the hub fans out (2,000 at each list tick) woke a task per
socket, and a pop arriving in such a burst waited in the socket tens of milliseconds
for this process, not for the server. So each console is a plain protocol that reads
the WebSocket frames itself (RFC 6455: server frames unmasked, pings answered) and looks
only at text frames that carry a pop; everything else costs a length check.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable

POP_MARKER = b'"cti.pop"'
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send (RFC 6455 §5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
    return head + mask + masked


class BenchConsole(asyncio.Protocol):
    """One agent's console: upgrades ``/ws`` with the session cookie, says what it shows,
    and hands the text of every pop frame to ``on_pop``."""

    def __init__(self, host: str, path: str, cookie: str, watch: bytes, on_pop: Callable[[bytes], None]) -> None:
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                        f"Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n").encode()
        self.watch = watch
        self.on_pop = on_pop
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the upgrade"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded and not self._upgrade():
            return
        while len(buffer) >= 2:
            opcode, size = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = struct.unpack_from("!H", buffer, 2)[0], 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = struct.unpack_from("!Q", buffer, 2)[0], 10
            end = start + size
            if len(buffer) < end:
                return
            if opcode == OP_TEXT:
                if buffer.find(POP_MARKER, start, end) >= 0:
                    self.on_pop(bytes(buffer[start:end]))
            elif opcode == OP_PING and self.transport is not None:
                self.transport.write(client_frame(OP_PONG, bytes(buffer[start:end])))
            elif opcode == OP_CLOSE and self.transport is not None:
                self.transport.close()
            del buffer[:end]

    def _upgrade(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = bytes(self._buffer[:self._buffer.find(b"\r\n")])
        del self._buffer[:end + 4]
        if status.split()[1:2] != [b"101"]:  # "HTTP/1.1 101 Switching Protocols"
            self.opened.set_exception(ConnectionError(f"no WebSocket upgrade: {status.decode(errors='replace')}"))
            if self.transport is not None:
                self.transport.close()
            return False
        self._upgraded = True
        if self.transport is not None:
            self.transport.write(client_frame(OP_TEXT, self.watch))
        self.opened.set_result(None)
        return True

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(OP_CLOSE, struct.pack("!H", 1000)))
            self.transport.close()


def _made(console: BenchConsole) -> Callable[[], BenchConsole]:
    return lambda: console


async def open_consoles(host: str, port: int, cookies: list[tuple[str, str]], watch: bytes,
                        on_pop: Callable[[bytes], None]) -> list[BenchConsole]:
    """One console per ``(cookie name, value)``, each upgraded and watching before this returns."""
    loop = asyncio.get_running_loop()
    consoles = []
    for name, value in cookies:
        console = BenchConsole(f"{host}:{port}", "/ws", f"{name}={value}", watch, on_pop)
        await loop.create_connection(_made(console), host, port)
        await console.opened
        consoles.append(console)
    return consoles
