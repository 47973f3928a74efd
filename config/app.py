"""The composition root: builds the whole server from settings."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from agent_ui.app import create_app
from alerts.plugin import plugin as sla_plugin
from channels.plugin import plugin as email_plugin
from config.services import Services
from config.settings import Settings
from core import search_index
from core.clock import Clock, SystemClock
from core.db import Database
from core.errors import Unavailable
from core.events import InProcessBus
from core.health import HealthRegistry
from core.migrate import head_revision
from core.ownership import Ownership
from core.template_workers import TemplateRenderer
from cti.plugin import plugin as cti_plugin
from knowledge.suggestions import TemplateLibrary
from routing.desk import TicketDesk
from routing.plugin import plugin as routing_plugin
from routing.policy import RulesPolicy

log = logging.getLogger(__name__)


GIL_SWITCH_S = 0.001
GC_THRESHOLDS = (700, 10, 100)  # CPython's are (700, 10, 10): full collections a tenth as often


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    bus = InProcessBus()
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
        health=HealthRegistry(),
        templates=TemplateLibrary(renderer=renderer),
        renderer=renderer,
        ownership=Ownership(db),
    )


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

    app = create_app(services)
    app.cleanup_ctx.insert(0, database)
    app.cleanup_ctx.insert(1, render_workers)
    policy = services.desk.policy
    if isinstance(policy, RulesPolicy):
        app.cleanup_ctx.append(routing_plugin(policy, services.desk, services.db, services.bus, services.clock, services.health))
    app.cleanup_ctx.append(email_plugin(services))
    app.cleanup_ctx.append(sla_plugin(services))
    app.cleanup_ctx.append(cti_plugin(services))
    app.on_startup.append(_freeze_startup_objects)
    app.on_startup.append(_short_gil_turns)
    return app


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
