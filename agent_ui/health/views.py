"""/healthz (process up), /readyz (database and links), /metrics (Prometheus text)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent_ui.base.keys import SERVICES


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    db_ok = await services.db.ping()
    services.health.set("database", db_ok, "connected" if db_ok else "unreachable")
    ready = services.health.ready()
    # "degraded": serving (so still 200 for a load balancer), but a part keeps failing.
    status = "not-ready" if not ready else "degraded" if services.health.degraded() else "ready"
    # With several instances, each says which PBX links and mailboxes it runs.
    body = {
        "status": status,
        "instance": services.ownership.instance,
        "owns": services.ownership.owns(),
        "components": services.health.snapshot(),
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
