"""The SLA feature's wiring into the server: scanner and SMS worker as supervised tasks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from alerts.demo import DEMO_POLICY, SmsSink
from alerts.keys import SLA
from alerts.sms.gateways import HttpGateway
from alerts.wiring import SlaServices, build_sla
from channels.plugin import EMAIL_CHANNEL
from core.auth import Actor
from core.supervisor import Backoff, SupervisedTask, running

log = logging.getLogger(__name__)

# Failed scans in a row (or rounds with failing tickets) before /readyz says "degraded":
# escalations that do not go out are an outage of their own, even while HTTP is served.
SCANNER_DEGRADED_AFTER = 3


def plugin(services: SlaServices) -> Callable[[web.Application], AsyncIterator[None]]:
    settings = services.settings.sla
    sink = SmsSink() if settings.demo and settings.sms.gateway == "log" else None
    parts = build_sla(services)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[SLA] = parts
        if sink is not None:
            await parts.gateway.close()
            parts.gateway = HttpGateway(await sink.start(), settings.sms.sender, services.renderer)
            parts.sms_delivery.gateway = parts.gateway
            parts.sms_sink = sink
            log.warning("SLA demo: SMS go to the sink at http://127.0.0.1:%d/", sink.port)
        email = app.get(EMAIL_CHANNEL)  # its worker sends the alert emails; wake it when we write some
        if email is not None:
            parts.scanner.on_committed.append(lambda batch: email.outbox.wake() if batch.outbox else None)
            parts.sms_delivery.on_fallback.append(email.outbox.wake)
        async with services.db.transaction() as session:
            await parts.store.seed(session)
            if settings.demo:
                names = {p.name for p in await parts.store.list_policies(session, Actor.system())}
                if DEMO_POLICY.name not in names:
                    await parts.store.save_policy(session, Actor.system(), DEMO_POLICY.model_dump())
        adopting = parts.service.adopt_unclocked()
        # Reported on /readyz but not required: serving HTTP does not depend on them, and a
        # load balancer should not drop an instance because its SMS gateway is down.
        tasks = []
        if settings.enabled:
            tasks.append(SupervisedTask("sla-scanner", parts.scanner.run, services.health, Backoff(1.0, 30.0), False,
                                        degrade_after=SCANNER_DEGRADED_AFTER))
        tasks.append(SupervisedTask("sms-outbox", parts.sms_worker.run, services.health, Backoff(1.0, 60.0), False))
        try:
            async with running(tasks):
                yield
        finally:
            adopting.cancel()
            await parts.gateway.close()
            if sink is not None:
                await sink.stop()

    return lifecycle

