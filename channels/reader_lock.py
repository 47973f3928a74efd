"""One reader per mailbox across server instances (PostgreSQL advisory lock).

Two instances importing the same folder would race on the same messages; dedup
keeps the tickets right, but the loser's batch would fail on the unique keys. So
on PostgreSQL the ingest holds a session-level advisory lock named after the
mailbox on a connection of its own while it reads; another instance waits as a
standby and takes over when the holder's connection ends (crash, stop). SQLite
means one process: no lock needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database


def lock_key(mailbox: str) -> int:
    """A stable signed 64-bit key for the mailbox name."""
    return int.from_bytes(hashlib.sha256(f"frontdesk-mailbox:{mailbox}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def mailbox_reader_lock(db: Database, mailbox: str) -> AsyncIterator[bool]:
    """Yields whether this instance may read the mailbox; holds the lock until the block ends."""
    if db.is_sqlite:
        yield True
        return
    key = lock_key(mailbox)
    conn: AsyncConnection = await db.engine.connect()
    got = False
    try:
        got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        await conn.commit()
        yield got
    finally:
        # Closing only returns the connection to the pool, where a session-level lock
        # would outlive this reader: unlock explicitly, or drop the connection for good.
        try:
            if got:
                await conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()
            await conn.close()
        except Exception:
            await conn.invalidate()
