"""Tickets: the queue (filters, sorting), the ticket page and its actions, the REST ticket API."""

from __future__ import annotations

from aiohttp import web

from agent_ui.tickets import api, handover_views, views


def setup(app: web.Application) -> None:
    handover_views.setup_routes(app)
    views.setup_routes(app)
    api.setup_routes(app)
