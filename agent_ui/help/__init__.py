"""The public help centre: published knowledge articles and the request form, no sign-in."""

from __future__ import annotations

from aiohttp import web

from agent_ui.help import portal_views, rating_views, request_views, views


def setup(app: web.Application) -> None:
    request_views.setup_routes(app)  # /help/new before /help/{id}
    portal_views.setup_routes(app)
    rating_views.setup_routes(app)
    views.setup_routes(app)
