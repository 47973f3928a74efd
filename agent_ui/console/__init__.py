"""The agent's console around every page: the front door, the softphone bar and its CTI API,
the language preference; the console's own scripts and styles."""

from __future__ import annotations

from aiohttp import web

from agent_ui.console import (
    cti_views,
    home,
    preferences_views,
    recent_calls_views,
    softphone_views,
    wrap_up_views,
)


def setup(app: web.Application) -> None:
    preferences_views.setup_routes(app)
    home.setup_routes(app)
    cti_views.setup_routes(app)
    recent_calls_views.setup_routes(app)
    softphone_views.setup_routes(app)
    wrap_up_views.setup_routes(app)
