"""Reports: the page and its CSV downloads."""

from __future__ import annotations

from aiohttp import web

from agent_ui.reports import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)
