"""The aiohttp application factory: console pages, REST API, live WebSocket, health.

Extension points for feature packages (each optional; a missing file is fine):

* Views: put thin handlers in ``agent_ui/<feature>_views.py`` with a
  ``setup_routes(app)`` and add one line to ``create_app`` below. Build the actor with
  ``agent_ui.base.identity.actor_of(request)`` and call your service; raise
  ``core.errors`` exceptions (rendered as JSON under ``/api/`` and as a page elsewhere).
  Read bodies with ``agent_ui.base.inputs.read_json(request, "SchemaName")`` / ``read_form`` and
  ids with ``path_int``/``as_int`` (never ``request.post()`` or ``int()``): they refuse deep
  nesting, non-finite or >64-bit numbers, lone surrogates and over-long text with a 400
  naming the field. Declare a field's length cap once in ``agent_ui/base/input_caps.py``: the
  OpenAPI document and the forms' ``maxlength`` (``caps.Schema.field``) use the same number.
  State-changing requests need the CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``; pages have it in ``<meta name="csrf-token">``), except with an API token.
* Templates: ``agent_ui/templates/<feature>/``. The console layout includes
  ``cti/panel.html`` (always visible: agent status, screen-pop, live call panel); the
  ticket page includes ``channels/composer.html`` (reply composer) and
  ``alerts/ticket_sla.html`` (SLA clock), with ``ticket``, ``customer``, ``timeline``,
  ``actor`` and ``csrf_token`` in their context. A timeline entry of kind K is drawn by
  ``timeline/K.html`` (``timeline/_generic.html`` otherwise).
* Scripts and styles: ``agent_ui/static/cti.js``, ``channels.js``, ``alerts.js`` (and
  ``<name>.css``) load on every console page when present (``FEATURE_SCRIPTS``); append
  other names to ``app[FEATURE_SCRIPTS]``. ``static/live.js`` gives them
  ``Live.on("call.ringing", (data, event) => ...)`` over the authenticated ``/ws``.
* Pages are served with a Content-Security-Policy: scripts only from ``/static/`` (no
  inline ``<script>`` or ``onclick=``), connections only to this site.
* Live events: publish a ``DomainEvent`` on the bus; one with a ``user_ids`` field
  reaches only those users, others reach every signed-in person (``agent_ui.live.hub``).
* Background work: a feature's ``plugin(services)`` cleanup-ctx in ``config/app.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from agent_ui.admin import alerts_views, routing_views, tokens_views
from agent_ui.api import directory as api_directory
from agent_ui.api import openapi
from agent_ui.base.error_middleware import error_middleware
from agent_ui.base.i18n import Localizer
from agent_ui.base.identity import identity_middleware
from agent_ui.base.keys import (
    FEATURE_SCRIPTS,
    FEATURE_STYLES,
    LIVE_HUB,
    LOCALIZER,
    LOGIN_LIMITER,
    SERVICES,
    SESSIONS,
)
from agent_ui.base.rendering import setup_rendering
from agent_ui.base.security_headers import add_security_headers
from agent_ui.base.sessions import SessionStore, secret_from_settings
from agent_ui.base.static_files import StaticFiles
from agent_ui.base.web_metrics import metrics_middleware
from agent_ui.console import cti_views, preferences_views
from agent_ui.health import views as health_views
from agent_ui.help import views as knowledge_views
from agent_ui.live.hub import LiveHub, live_socket
from agent_ui.login import views as login_views
from agent_ui.login.limiter import LoginLimiter
from agent_ui.mail import views as channels_views
from agent_ui.reports import views as reports_views
from agent_ui.search import views as search_views
from agent_ui.tickets import api as api_tickets
from agent_ui.tickets import views as console_views
from agent_ui.wallboard import views as wallboard_views
from config.services import Services
from core.events import DomainEvent

log = logging.getLogger(__name__)

AGENT_UI = Path(__file__).parent
# Feature assets loaded on every console page when the file exists, in this order.
FEATURES = ("cti", "channels", "alerts", "offers")


def _asset_dirs(kind: str) -> list[Path]:
    """Each feature's ``templates/`` or ``static/`` folder."""
    return [folder for folder in (AGENT_UI / kind, *sorted(AGENT_UI.glob(f"*/{kind}"))) if folder.is_dir()]


def create_app(services: Services) -> web.Application:
    web_settings = services.settings.web
    app = web.Application(
        client_max_size=web_settings.max_body_bytes,
        middlewares=[metrics_middleware, error_middleware, identity_middleware],
    )
    app[SERVICES] = services
    app[SESSIONS] = SessionStore(
        secret_from_settings(web_settings.secret_key.get_secret_value()),
        services.clock,
        timedelta(hours=web_settings.session_hours),
        web_settings.cookie_secure,
    )
    app[LOGIN_LIMITER] = LoginLimiter(web_settings.login_attempts_per_minute, services.clock)
    localizer = Localizer(default_language=web_settings.default_language)
    app[LOCALIZER] = localizer
    static_files = StaticFiles(_asset_dirs("static"))
    own_scripts = ["live.js", "console.js", "preferences.js", "shortcuts.js", "ringer.js", "knowledge_search.js",
                   "state_clock.js"]
    app[FEATURE_SCRIPTS] = [*own_scripts, *[f"{n}.js" for n in FEATURES if static_files.has(f"{n}.js")]]
    app[FEATURE_STYLES] = ["console.css", *[f"{n}.css" for n in FEATURES if static_files.has(f"{n}.css")]]
    hub = LiveHub(fanout_slice=64)
    app[LIVE_HUB] = hub
    services.bus.subscribe(DomainEvent, hub.on_event)
    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(lambda _app: hub.close_all())  # before aiohttp waits for handlers
    setup_rendering(app, localizer, _asset_dirs("templates"))

    health_views.setup_routes(app)
    login_views.setup_routes(app)
    channels_views.setup_routes(app)  # before the console's /tickets/{id}/{action}
    preferences_views.setup_routes(app)
    console_views.setup_routes(app)
    api_tickets.setup_routes(app)
    api_directory.setup_routes(app)
    openapi.setup_routes(app)
    knowledge_views.setup_routes(app)
    alerts_views.setup_routes(app)
    cti_views.setup_routes(app)
    wallboard_views.setup(app)
    reports_views.setup_routes(app)
    routing_views.setup_routes(app)
    tokens_views.setup_routes(app)
    search_views.setup_routes(app)
    app.router.add_get("/ws", live_socket)
    static_files.setup_routes(app)
    return app
