"""A live socket lives no longer than the login it was opened with.

A disable from the admin page reaches the hub at once (``AccessEnded`` on the bus). One from
``frontdesk user disable`` happens in another process, whose bus this server never hears, and
a login can also end without any event (logged out, expired, ended by a password change in
another tab): this sweep asks the database every few seconds which connected people are no
longer active and which browser logins are gone, and ends their connections the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from agent_ui.base.keys import SERVICES
from agent_ui.live.hub import LIVE_HUB, LiveHub
from core.clock import Clock
from core.db import Database
from core.records import User, WebSession
from core.supervisor import Backoff, SupervisedTask

SWEEP_EVERY_S = 5.0


async def sweep_once(hub: LiveHub, db: Database, now: datetime) -> int:
    """End the connections of disabled people and of ended logins; returns how many ended."""
    connected, logins = hub.user_ids(), hub.login_keys()
    if not connected:
        return 0
    async with db.session() as session:
        disabled = list((await session.execute(
            select(User.id).where(User.id.in_(connected), User.active.is_(False)))).scalars())
        alive = set((await session.execute(
            select(WebSession.csrf_token).where(WebSession.csrf_token.in_(logins), WebSession.expires_at > now)
        )).scalars()) if logins else set()
    ended = sum(hub.end_user(user_id) for user_id in disabled)
    return ended + hub.end_logins(logins - alive)


def _sweep_body(hub: LiveHub, db: Database, clock: Clock, every: float) -> Callable[[SupervisedTask], Awaitable[None]]:
    """A failed check (the database away a moment) raises: the supervisor backs off and says so on /readyz.
    A (re)started body checks at once: after a database outage it is working again, and says
    so, as soon as the database answers, not a period later."""

    async def body(task: SupervisedTask) -> None:
        while True:
            await sweep_once(hub, db, clock.now())
            task.healthy()
            await asyncio.sleep(every)

    return body


async def access_sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    task = SupervisedTask("live-access-sweep", _sweep_body(app[LIVE_HUB], services.db, services.clock, SWEEP_EVERY_S),
                          services.health, Backoff(1.0, 30.0), required=False)
    task.start()
    yield
    await task.stop()
