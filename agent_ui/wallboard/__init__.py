"""The wallboard: the page, its live feed (figures, backlog, charts) over its own WebSocket."""

from __future__ import annotations

from aiohttp import web

from agent_ui.wallboard import views


def setup(app: web.Application) -> None:
    views.setup(app)
