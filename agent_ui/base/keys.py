"""Typed keys for what the web app holds that every feature may read.

A key naming a feature's own type lives next to that type (``agent_ui.live.hub.LIVE_HUB``,
``agent_ui.login.limiter.LOGIN_LIMITER``, ``agent_ui.wallboard.feed.WALLBOARD``), so this
module imports nothing above the base and no import runs in a circle through it.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.i18n import Localizer
from agent_ui.base.services import WebServices
from agent_ui.base.sessions import SessionStore
from core.signing_key import SigningKey

SERVICES: web.AppKey[WebServices] = web.AppKey("services")
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
LOCALIZER: web.AppKey[Localizer] = web.AppKey("localizer", Localizer)
# What signs cookies, customers' rating links and form tokens (read from the database at start-up).
SIGNING_KEY: web.AppKey[SigningKey] = web.AppKey("signing_key", SigningKey)
# Scripts and stylesheets under /static/ that every console page loads, in order.
FEATURE_SCRIPTS: web.AppKey[list[str]] = web.AppKey("feature_scripts")
FEATURE_STYLES: web.AppKey[list[str]] = web.AppKey("feature_styles")
