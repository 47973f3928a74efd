"""The console's front door: ``/`` sends a signed-in person to the queue."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import actor_of


async def home(request: web.Request) -> web.StreamResponse:
    actor_of(request)
    raise web.HTTPSeeOther("/queue")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
