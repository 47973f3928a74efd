"""Live updates to browsers: the hub that fans domain events out over ``/ws``."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.keys import FEATURE_SCRIPTS, FEATURE_STYLES, SERVICES
from agent_ui.live.access_sweep import access_sweep_ctx
from agent_ui.live.drain import DRAIN, Drain
from agent_ui.live.hub import LIVE_HUB, LiveHub
from agent_ui.live.socket import live_socket
from core.cluster_bus import ClusterBus
from core.events import DomainEvent


def setup(app: web.Application) -> None:
    services = app[SERVICES]
    bus = services.bus
    if isinstance(bus, ClusterBus):  # several instances: share who is on which ticket
        hub = LiveHub(fanout_slice=64, publish=bus.publish, instance=bus.identity)
    else:
        hub = LiveHub(fanout_slice=64)
    app[LIVE_HUB] = hub
    drain = app[DRAIN] = Drain()
    app.on_shutdown.insert(0, drain.begin)  # SIGTERM: refuse new sockets before the open ones are closed
    bus.subscribe(DomainEvent, hub.on_event, everywhere=True)  # a pop or a ticket change from any instance
    bus.on_resync(hub.resync)  # events from other instances were missed: the pages read their state again
    app.on_shutdown.append(lambda _app: hub.close_all())  # before aiohttp waits for handlers
    app.cleanup_ctx.append(access_sweep_ctx)  # sockets of people disabled from the CLI
    app.router.add_get("/ws", live_socket)
    app[FEATURE_SCRIPTS].append("presence.js")  # who else is on a ticket page (ticket_presence)
    app[FEATURE_STYLES].append("presence.css")
