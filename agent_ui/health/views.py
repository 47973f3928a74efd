"""/healthz (process up), /readyz (database, links, the cluster bus), /metrics (Prometheus text)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent_ui.base.keys import SERVICES
from agent_ui.live.drain import DRAIN
from core.cluster_bus import ClusterBus


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    db_ok = await services.db.ping()
    services.health.set("database", db_ok, "connected" if db_ok else "unreachable")
    drain = request.app.get(DRAIN)
    draining = drain is not None and drain.draining
    ready = services.health.ready() and not draining
    # "degraded": serving (so still 200 for a load balancer), but a part keeps failing.
    # "draining": shutting down (SIGTERM); a load balancer sends nothing new here.
    status = ("draining" if draining else "not-ready" if not ready
              else "degraded" if services.health.degraded() else "ready")
    bus = services.bus
    cluster = bus.describe() if isinstance(bus, ClusterBus) else {
        "instance": services.settings.cluster.instance_id, "backend": "local", "state": "local"}
    # With several instances, each says which PBX links and mailboxes it runs.
    body = {
        "status": status,
        "instance": services.ownership.instance,
        "owns": services.ownership.owns(),
        "components": services.health.snapshot(),
        "cluster": cluster,
    }
    return web.json_response(body, status=200 if ready else 503)


async def metrics(_request: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
