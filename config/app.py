"""The composition root: builds the whole server from settings."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from agent_ui.app import create_app
from alerts.plugin import plugin as sla_plugin
from channels.plugin import plugin as email_plugin
from config.services import Services
from config.settings import Settings
from core import search_index
from core.bus_postgres import PostgresNotify
from core.bus_redis import RedisPubSub
from core.clock import Clock, SystemClock
from core.cluster_bus import BusTransport, ClusterBus
from core.db import Database
from core.errors import Unavailable
from core.events import EventBus, InProcessBus
from core.health import HealthRegistry
from core.migrate import head_revision
from core.ownership import Ownership
from core.template_workers import TemplateRenderer
from core.tier_worker import TierWorker
from cti.agent_states import latest_agent_states
from cti.plugin import plugin as cti_plugin
from integrations.plugin import plugin as webhooks_plugin
from knowledge.suggestions import TemplateLibrary
from privacy.plugin import plugin as privacy_plugin
from routing.desk import TicketDesk
from routing.plugin import plugin as routing_plugin
from routing.policy import RulesPolicy

log = logging.getLogger(__name__)


GIL_SWITCH_S = 0.001
GC_THRESHOLDS = (700, 10, 100)  # CPython's are (700, 10, 10): full collections a tenth as often


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    health = HealthRegistry()
    bus = build_bus(settings, health)
    desk = TicketDesk(RulesPolicy(settings.routing, clock, timezone=settings.timezone), bus, clock)
    renderer = TemplateRenderer()
    db = Database(settings.database_url)
    search_index.install(db)
    return Services(
        settings=settings,
        db=db,
        bus=bus,
        clock=clock,
        desk=desk,
        health=health,
        templates=TemplateLibrary(renderer=renderer),
        renderer=renderer,
        ownership=Ownership(db, instance=settings.cluster.instance_id),
    )


def build_bus(settings: Settings, health: HealthRegistry) -> EventBus:
    """One process alone (SQLite, or ``cluster.backend: local``) keeps its events to itself;
    otherwise they travel to the other instances over PostgreSQL or Redis."""
    cluster = settings.cluster
    backend = cluster.chosen_backend(settings.database_url)
    transport: BusTransport
    if backend == "redis" and cluster.redis_url is not None:
        transport = RedisPubSub(cluster.redis_url.get_secret_value(), cluster.instance_id, cluster.keepalive_s, cluster.channel)
    elif backend == "postgresql" and settings.database_url.startswith("postgresql"):
        transport = PostgresNotify(settings.database_url, cluster.instance_id, cluster.keepalive_s, cluster.channel)
    else:
        return InProcessBus()
    return ClusterBus(cluster.instance_id, transport, health)


async def check_schema(services: Services) -> None:
    current = await services.db.schema_revision()
    expected = head_revision()
    if current != expected:
        raise Unavailable(
            f"database schema is at {current or 'nothing'}, this server needs {expected}: run 'frontdesk migrate'"
        )


def build_app(settings: Settings, services: Services | None = None) -> web.Application:
    services = services or build_services(settings)

    async def database(_app: web.Application) -> AsyncIterator[None]:
        await check_schema(services)
        services.health.set("database", True, "connected")
        yield
        await services.ownership.close()
        await services.db.close()

    async def render_workers(_app: web.Application) -> AsyncIterator[None]:
        await services.renderer.start()
        task = services.renderer.supervised(services.health)
        task.start()
        yield
        await task.stop()
        await services.renderer.close()

    async def cluster_bus(_app: web.Application) -> AsyncIterator[None]:
        bus = services.bus
        if isinstance(bus, ClusterBus):
            bus.start()
        yield
        if isinstance(bus, ClusterBus):
            await bus.stop()

    app = create_app(services)
    app.cleanup_ctx.insert(0, database)
    app.cleanup_ctx.insert(1, cluster_bus)
    app.cleanup_ctx.insert(2, render_workers)
    policy = services.desk.policy
    if isinstance(policy, RulesPolicy):
        # A process that starts late reads the PBX's last word on each agent too (cti's records).
        pbx_states = latest_agent_states if services.settings.pbx else None
        app.cleanup_ctx.append(routing_plugin(policy, services.desk, services.db, services.bus, services.clock, services.health,
                                              pbx_states))
    app.cleanup_ctx.append(email_plugin(services))
    app.cleanup_ctx.append(sla_plugin(services))
    app.cleanup_ctx.append(cti_plugin(services))
    app.cleanup_ctx.append(webhooks_plugin(services))
    app.cleanup_ctx.append(privacy_plugin(services))
    app.cleanup_ctx.append(_tier_worker(services))
    app.on_startup.append(_freeze_startup_objects)
    app.on_startup.append(_short_gil_turns)
    return app


def _tier_worker(services: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    """Tiers recomputed on change and on schedule (``core.tier_worker``)."""
    async def tiers(_app: web.Application) -> AsyncIterator[None]:
        worker = TierWorker(services.db, services.bus, services.clock, services.health, services.settings.tiers)
        worker.start()
        yield
        await worker.stop()

    return tiers


async def _short_gil_turns(_app: web.Application) -> None:
    """The database driver's thread (aiosqlite) and ``to_thread`` work wait for the GIL while
    the event loop runs Python: at the default 5 ms switch interval a screen-pop's lookup,
    a handful of such hand-overs, waited tens of milliseconds under a busy PBX."""
    sys.setswitchinterval(GIL_SWITCH_S)


async def _freeze_startup_objects(_app: web.Application) -> None:
    """Move what start-up built out of the collector's sight: no long full-heap GC pauses
    later (they show as screen-pop latency spikes). What comes after (2,000 consoles'
    sockets and tasks: some 30,000 objects) still costs a full collection ~15 ms, so those
    run a tenth as often (``GC_THRESHOLDS``); young cycles are collected as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
