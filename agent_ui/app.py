"""The aiohttp application factory: composes the feature packages into one web app.

Where things are (one package per feature, each with its views, ``templates/`` and ``static/``):
``base`` (shared: rendering and the layout, i18n, identity, sessions, inputs, errors, keys),
``login``, ``console`` (front door, softphone bar and CTI API, preferences), ``tickets``
(queue, ticket page, REST tickets), ``mail`` (reply composer, attachments, quarantine),
``search``, ``customers`` (directory, customer page, merge, CSV import/export), ``help`` (help centre, knowledge ops and API), ``admin`` (SLA and alerts, routing
rules, tokens), ``people`` (users admin, passwords), ``privacy`` (view log, export, erasure, policy), ``wallboard``, ``reports``, ``api`` (directory, OpenAPI), ``live`` (``/ws``),
``health``.

Extension points for a feature package:

* Views: thin handlers in ``agent_ui/<feature>/`` and a ``setup(app)`` in the package's
  ``__init__.py``; add the package to ``FEATURES`` below. Build the actor with
  ``agent_ui.base.identity.actor_of(request)`` and call your service; raise
  ``core.errors`` exceptions (rendered as JSON under ``/api/`` and as a page elsewhere).
  Read bodies with ``agent_ui.base.inputs.read_json(request, "SchemaName")`` / ``read_form`` and
  ids with ``path_int``/``as_int`` (never ``request.post()`` or ``int()``): they refuse deep
  nesting, non-finite or >64-bit numbers, lone surrogates and over-long text with a 400
  naming the field. Declare a field's length cap once in ``agent_ui/base/input_caps.py``: the
  OpenAPI document and the forms' ``maxlength`` (``caps.Schema.field``) use the same number.
  State-changing requests need the CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``; pages have it in ``<meta name="csrf-token">``), except with an API token.
* Templates: ``agent_ui/<feature>/templates/``; every feature's folder is on the loader's
  search path, so a template is named by its path inside it (``wallboard/board.html``).
  The layout (``base.html``, in ``base``) includes ``cti/panel.html`` (always visible:
  agent status, screen-pop, live call panel); the ticket page includes
  ``channels/composer.html`` (reply composer) and ``alerts/ticket_sla.html`` (SLA clock),
  with ``ticket``, ``customer``, ``timeline``, ``actor`` and ``csrf_token`` in their
  context. A timeline entry of kind K is drawn by ``timeline/K.html``
  (``timeline/_generic.html`` otherwise).
* Scripts and styles: ``agent_ui/<feature>/static/<name>``, served as ``/static/<name>``
  (names are unique across features). ``cti.js``, ``channels.js``, ``alerts.js`` (and
  ``<name>.css``) load on every console page when present (``FEATURE_SCRIPTS``); append
  other names to ``app[FEATURE_SCRIPTS]``. ``live.js`` gives them
  ``Live.on("call.ringing", (data, event) => ...)`` over the authenticated ``/ws``.
* Pages are served with a Content-Security-Policy: scripts only from ``/static/`` (no
  inline ``<script>`` or ``onclick=``), connections only to this site.
* Live events: publish a ``DomainEvent`` on the bus; one with a ``user_ids`` field
  reaches only those users, others reach every signed-in person (``agent_ui.live.hub``).
* Background work: a feature's cleanup-ctx, registered by the composition root
  (``config/app.py``), which hands it what it needs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from aiohttp import web

from agent_ui import (
    admin,
    api,
    base,
    console,
    customers,
    health,
    help,
    live,
    login,
    mail,
    people,
    privacy,
    reports,
    search,
    tickets,
    wallboard,
)
from agent_ui.base.client_address import client_address_middleware, parse_networks
from agent_ui.base.error_middleware import error_middleware
from agent_ui.base.i18n import Localizer
from agent_ui.base.identity import identity_middleware
from agent_ui.base.keys import (
    FEATURE_SCRIPTS,
    FEATURE_STYLES,
    LOCALIZER,
    SERVICES,
    SESSIONS,
    SIGNING_KEY,
)
from agent_ui.base.rendering import setup_rendering
from agent_ui.base.security_headers import add_security_headers
from agent_ui.base.services import WebServices
from agent_ui.base.sessions import SessionStore
from agent_ui.base.static_files import StaticFiles
from agent_ui.base.web_metrics import metrics_middleware
from core.signing_key import SigningKey

log = logging.getLogger(__name__)

# Set up in this order: the live hub's shutdown before the wallboard's; mail's routes before
# the ticket pages' /tickets/{id}/{action}.
FEATURES: tuple[ModuleType, ...] = (
    live, health, login, mail, console, tickets, api, help, admin, people, wallboard, reports, search, customers,
    privacy,
)
# Feature assets loaded on every console page when the file exists, in this order.
FEATURE_ASSETS = ("cti", "channels", "alerts", "offers", "customers")
OWN_SCRIPTS = ("live.js", "console.js", "preferences.js", "shortcuts.js", "ringer.js", "knowledge_search.js",
               "state_clock.js")


def asset_dirs(kind: str) -> list[Path]:
    """The ``templates`` or ``static`` folders of the base and every feature that has one."""
    folders = [Path(package.__file__ or "").parent / kind for package in (base, *FEATURES)]
    return [folder for folder in folders if folder.is_dir()]


def _signing_key(services: WebServices, key: SigningKey) -> Callable[[web.Application], AsyncIterator[None]]:
    async def load(_app: web.Application) -> AsyncIterator[None]:
        await key.load(services.db)
        yield

    return load


def create_app(services: WebServices) -> web.Application:
    web_settings = services.settings.web
    app = web.Application(
        client_max_size=web_settings.max_body_bytes,
        middlewares=[
            client_address_middleware(parse_networks(web_settings.trusted_proxies)),
            metrics_middleware,
            error_middleware,
            identity_middleware,
        ],
    )
    app[SERVICES] = services
    key = SigningKey(web_settings.secret_key.get_secret_value())
    app[SIGNING_KEY] = key
    # First of the app's own start-up steps (after the composition root's database check):
    # nothing signs a cookie, a rating link or a form token before the key is read.
    app.cleanup_ctx.append(_signing_key(services, key))
    app[SESSIONS] = SessionStore(
        key,
        services.clock,
        timedelta(hours=web_settings.session_hours),
        web_settings.cookie_secure,
    )
    localizer = Localizer(default_language=web_settings.default_language)
    app[LOCALIZER] = localizer
    static_files = StaticFiles(asset_dirs("static"))
    app[FEATURE_SCRIPTS] = [*OWN_SCRIPTS, *[f"{n}.js" for n in FEATURE_ASSETS if static_files.has(f"{n}.js")]]
    app[FEATURE_STYLES] = ["console.css", *[f"{n}.css" for n in FEATURE_ASSETS if static_files.has(f"{n}.css")]]
    app.on_response_prepare.append(add_security_headers)
    setup_rendering(app, localizer, asset_dirs("templates"))
    for feature in FEATURES:
        feature.setup(app)
    static_files.setup_routes(app)
    return app
