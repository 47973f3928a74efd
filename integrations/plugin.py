"""The webhook feature's wiring into the server: the feed and the delivery worker as
supervised tasks, the parts on the app under ``WEBHOOKS``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from core.supervisor import Backoff, SupervisedTask, running
from integrations.keys import WEBHOOKS
from integrations.wiring import Webhooks, WebhookServices


def plugin(services: WebhookServices) -> Callable[[web.Application], AsyncIterator[None]]:
    settings = services.settings.webhooks
    parts = Webhooks(services, settings)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[WEBHOOKS] = parts
        # Reported on /readyz but not required: a CRM that is down is not this server's outage.
        tasks = [SupervisedTask("webhook-feed", parts.feed.run, services.health, Backoff(1.0, 30.0), False)]
        if settings.workers:
            tasks.append(SupervisedTask("outbox:webhook", parts.worker.run, services.health, Backoff(1.0, 60.0), False))
        try:
            async with running(tasks):
                yield
        finally:
            await parts.close()

    return lifecycle
