"""Tickets: the queue (filters, sorting, saved views, bulk edits), the ticket page and its actions
(custom fields, macros), the REST ticket API."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.keys import FEATURE_SCRIPTS, FEATURE_STYLES
from agent_ui.tickets import (
    api,
    bulk_views,
    field_views,
    handover_views,
    macro_views,
    saved_view_views,
    views,
)


def setup(app: web.Application) -> None:
    # Before the ticket pages' /tickets/{id}/{action}, which would take these paths.
    handover_views.setup_routes(app)
    field_views.setup_routes(app)
    macro_views.setup_routes(app)
    bulk_views.setup_routes(app)
    saved_view_views.setup_routes(app)
    views.setup_routes(app)
    api.setup_routes(app)
    app[FEATURE_SCRIPTS].append("desk_tools.js")
    app[FEATURE_STYLES].append("desk_tools.css")
