"""Liveness, readiness and metrics for load balancers and Prometheus (no sign-in)."""

from __future__ import annotations

from aiohttp import web

from agent_ui.health import views


def setup(app: web.Application) -> None:
    views.setup_routes(app)
