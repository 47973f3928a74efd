"""The email channel on the web: the reply composer's API and form, attachments, the quarantine."""

from __future__ import annotations

from aiohttp import web

from agent_ui.mail import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)  # before the ticket pages' /tickets/{id}/{action}
