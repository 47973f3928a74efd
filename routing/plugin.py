"""Server wiring: load the live rules at start, then keep up with saves made by any server process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from core.db import Database
from core.health import HealthRegistry
from core.supervisor import Backoff, SupervisedTask
from routing.policy import RulesPolicy

REFRESH_S = 2.0  # how soon a save in another server process is routed with everywhere


def plugin(policy: RulesPolicy, db: Database, health: HealthRegistry) -> Callable[[web.Application], AsyncIterator[None]]:
    async def follow(task: SupervisedTask) -> None:
        while True:
            async with db.session() as session:
                await policy.refresh(session)
            task.healthy(f"rules version {policy.engine.version}")
            await asyncio.sleep(REFRESH_S)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        async with db.session() as session:
            await policy.refresh(session)
        task = SupervisedTask("routing-rules", follow, health, Backoff(1.0, 30.0), required=False)
        task.start()
        try:
            yield
        finally:
            await task.stop()

    return lifecycle
