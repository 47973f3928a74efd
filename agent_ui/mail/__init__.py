"""The email channel on the web: the reply composer's API and form, attachments, the quarantine."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from agent_ui.base.keys import SERVICES
from agent_ui.mail import composer_views, views


def setup(app: web.Application) -> None:
    smtp = getattr(app[SERVICES].settings, "smtp", None)  # the composer says how much may be attached
    aiohttp_jinja2.get_env(app).globals["reply_attachment_bytes"] = getattr(smtp, "max_attachment_bytes", 0)
    composer_views.setup_routes(app)
    views.setup_routes(app)  # before the ticket pages' /tickets/{id}/{action}
