"""The aiohttp application factory: pages, REST API, WebSockets, health."""

from __future__ import annotations

from aiohttp import web

from agent_ui import health_views
from agent_ui.keys import SERVICES
from config.services import Services


def create_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=services.settings.web.max_body_bytes)
    app[SERVICES] = services
    health_views.setup_routes(app)
    return app
