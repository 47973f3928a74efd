"""Reports: the page and its CSV downloads; the complaint report."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.keys import FEATURE_STYLES
from agent_ui.reports import complaint_views, views


def setup(app: web.Application) -> None:
    app[FEATURE_STYLES].append("reports.css")
    complaint_views.setup_routes(app)
    views.setup_routes(app)
