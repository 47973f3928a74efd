"""The REST directory (people, customers) and the OpenAPI document of ``/api/v1``."""

from __future__ import annotations

from aiohttp import web

from agent_ui.api import directory, openapi


def setup(app: web.Application) -> None:
    directory.setup_routes(app)
    openapi.setup_routes(app)
