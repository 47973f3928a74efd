"""The privacy feature's wiring into the server: the view log's writer, the policy's refresh
and the retention job, each a supervised task."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from core.services import CoreServices
from core.supervisor import Backoff, SupervisedTask, running
from privacy.keys import PRIVACY_POLICY, VIEW_LOG
from privacy.policy import PolicyCache
from privacy.retention import RetentionJob
from privacy.view_log import ViewLog


def plugin(services: CoreServices) -> Callable[[web.Application], AsyncIterator[None]]:
    view_log = ViewLog(services.db, services.clock)
    policy = PolicyCache(services.db)
    retention = RetentionJob(services.db, services.clock.now)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[VIEW_LOG] = view_log
        app[PRIVACY_POLICY] = policy
        await policy.refresh()
        # Not required for /readyz: pages are served while these wait for the database.
        tasks = [
            SupervisedTask("view-log", view_log.run, services.health, Backoff(1.0, 30.0), False),
            SupervisedTask("privacy-policy", policy.run, services.health, Backoff(1.0, 30.0), False),
            SupervisedTask("retention", retention.run, services.health, Backoff(5.0, 300.0), False),
        ]
        async with running(tasks):
            yield

    return lifecycle
