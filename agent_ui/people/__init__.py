"""People on the desk: the admin's users pages and REST API (create, edit, disable, reset
links) and each person's own password page."""

from __future__ import annotations

from aiohttp import web

from agent_ui.people import password_views, users_api, users_views


def setup(app: web.Application) -> None:
    users_views.setup_routes(app)
    users_api.setup_routes(app)
    password_views.setup_routes(app)
