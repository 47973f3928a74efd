"""Typed keys for what the web app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from agent_ui.base.i18n import Localizer
    from agent_ui.base.sessions import SessionStore
    from agent_ui.live.hub import LiveHub
    from agent_ui.login.limiter import LoginLimiter
    from agent_ui.wallboard.feed import WallboardFeed
    from config.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services")
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions")
LOGIN_LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter")
LIVE_HUB: web.AppKey[LiveHub] = web.AppKey("live_hub")
LOCALIZER: web.AppKey[Localizer] = web.AppKey("localizer")
# Scripts and stylesheets under /static/ that every console page loads, in order.
FEATURE_SCRIPTS: web.AppKey[list[str]] = web.AppKey("feature_scripts")
FEATURE_STYLES: web.AppKey[list[str]] = web.AppKey("feature_styles")
WALLBOARD: web.AppKey[WallboardFeed] = web.AppKey("wallboard")
