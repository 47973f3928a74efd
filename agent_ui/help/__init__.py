"""The public help centre: published knowledge articles, no sign-in."""

from __future__ import annotations

from aiohttp import web

from agent_ui.help import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)
