"""Signing in and out of the console, with the per-login and per-address attempt limit."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.keys import SERVICES
from agent_ui.login import views
from agent_ui.login.limiter import LOGIN_LIMITER, LoginFailed, LoginLimiter, LoginSucceeded


def setup(app: web.Application) -> None:
    services = app[SERVICES]
    limiter = app[LOGIN_LIMITER] = LoginLimiter(services.settings.web.login_attempts_per_minute, services.clock)
    for event_type in (LoginFailed, LoginSucceeded):  # from this instance and the others
        services.bus.subscribe(event_type, limiter.on_event, everywhere=True)
    views.setup_routes(app)
