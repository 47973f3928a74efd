"""Search over tickets, customers and knowledge: the page and ``/api/v1/search``."""

from __future__ import annotations

from aiohttp import web

from agent_ui.search import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)
