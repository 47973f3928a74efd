"""The privacy feature's wiring into the server: the view log's writer as a supervised task."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from core.services import CoreServices
from core.supervisor import Backoff, SupervisedTask
from privacy.keys import VIEW_LOG
from privacy.view_log import ViewLog


def plugin(services: CoreServices) -> Callable[[web.Application], AsyncIterator[None]]:
    view_log = ViewLog(services.db, services.clock)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[VIEW_LOG] = view_log
        # Not required for /readyz: pages are served while the log waits for the database.
        writer = SupervisedTask("view-log", view_log.run, services.health, Backoff(1.0, 30.0), False)
        writer.start()
        try:
            yield
        finally:
            await writer.stop()

    return lifecycle
