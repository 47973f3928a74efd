"""Closing the live sockets of people disabled by another process.

A disable from the admin page reaches the hub at once (``AccessEnded`` on the bus). One from
``frontdesk user disable`` happens in another process, whose bus this server never hears:
this sweep asks the database every few seconds which connected people are no longer active,
and ends their connections the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from agent_ui.base.keys import SERVICES
from agent_ui.live.hub import LIVE_HUB, LiveHub
from core.db import Database
from core.records import User

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0


async def sweep_once(hub: LiveHub, db: Database) -> int:
    """End the connections of connected people who are disabled now; returns how many people."""
    connected = hub.user_ids()
    if not connected:
        return 0
    async with db.session() as session:
        gone = list((await session.execute(
            select(User.id).where(User.id.in_(connected), User.active.is_(False)))).scalars())
    for user_id in gone:
        hub.end_user(user_id)
    return len(gone)


async def _sweep_forever(hub: LiveHub, db: Database, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await sweep_once(hub, db)
        except Exception:  # the database may be away a moment: try again next time
            log.warning("cannot check live connections against disabled users", exc_info=True)


async def access_sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_sweep_forever(app[LIVE_HUB], app[SERVICES].db, SWEEP_EVERY_S), name="live-access-sweep")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
