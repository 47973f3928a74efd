"""Cluster bus frames over PostgreSQL ``LISTEN``/``NOTIFY`` (the database every instance shares).

Two dedicated asyncpg connections, outside SQLAlchemy's pool: one listens (it must stay open
and idle for notifications to arrive), one sends. A batch of frames goes out in one statement
(``pg_notify`` over ``unnest``: one transaction, delivered in that order). The listener knows
its connection is gone from asyncpg's termination callback, and from a ``SELECT 1`` every
``keepalive_s`` (a network that dropped without a word).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg
from sqlalchemy.engine import make_url

from core.bus_wire import PG_NOTIFY_LIMIT

log = logging.getLogger(__name__)

CHANNEL = "frontdesk_events"
CONNECT_TIMEOUT_S = 5.0
SEND = "SELECT pg_notify($1, frame) FROM unnest($2::text[]) AS frame"


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy's form) as asyncpg reads it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresNotify:
    backend = "postgresql"
    limit = PG_NOTIFY_LIMIT

    def __init__(self, database_url: str, instance_id: str, keepalive_s: float = 5.0, channel: str = CHANNEL) -> None:
        self.channel = channel
        self._dsn = asyncpg_dsn(database_url)
        self._name = f"frontdesk-bus:{instance_id}"[:63]
        self.keepalive_s = keepalive_s
        self._sender: asyncpg.Connection | None = None
        self.listener_pid: int | None = None  # the server process of the listening connection (tests end it)

    async def _connect(self, role: str) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S,
                                     server_settings={"application_name": f"{self._name}:{role}"[:63]})

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        conn = await self._connect("listen")
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self.channel, lambda _conn, _pid, _channel, payload: deliver(payload))
            self.listener_pid = conn.get_server_pid()
            ready()
            while not lost.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.keepalive_s):
                        await lost.wait()
                    break
                async with asyncio.timeout(self.keepalive_s):
                    await conn.execute("SELECT 1")
            raise ConnectionError("the listening connection to PostgreSQL was lost")
        finally:
            self.listener_pid = None
            conn.terminate()

    async def send(self, payloads: Sequence[str]) -> None:
        if self._sender is None or self._sender.is_closed():
            self._sender = await self._connect("send")
        try:
            await self._sender.execute(SEND, self.channel, list(payloads))
        except BaseException:
            sender, self._sender = self._sender, None
            sender.terminate()
            raise

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None and not sender.is_closed():
            try:
                await sender.close(timeout=2.0)
            except Exception:
                sender.terminate()
