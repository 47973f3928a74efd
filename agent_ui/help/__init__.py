"""The public help centre, the knowledge ops page and the templates and articles API."""

from __future__ import annotations

from aiohttp import web

from agent_ui.help import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)
