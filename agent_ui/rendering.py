"""Server-rendered pages: one Jinja2 environment (autoescaped, translatable) for every feature.

Templates live in ``agent_ui/templates`` (features in a sub-folder named after them).
Render with ``render(template, request, context)``: every page also gets ``request``,
``signed_in``, ``actor``, ``csrf_token``, ``lang``, ``feature_scripts`` and ``feature_styles``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.dates import format_datetime

from agent_ui.i18n import Localizer
from agent_ui.identity import signed_in
from agent_ui.keys import FEATURE_SCRIPTS, FEATURE_STYLES, LOCALIZER, SERVICES
from core.clock import as_utc
from core.phones import format_phone
from core.records import Priority

TEMPLATES_DIR = Path(__file__).parent / "templates"


def render(
    template: str, request: web.Request, context: dict[str, Any], status: int = 200
) -> web.Response:
    """Render a page with the common context (who, CSRF token, language, feature assets)."""
    return aiohttp_jinja2.render_template(template, request, {**page_context(request), **context}, status=status)


def page_context(request: web.Request) -> dict[str, Any]:
    who = signed_in(request)
    localizer = request.app[LOCALIZER]
    lang = localizer.pick(who.user.language if who else None)
    return {
        "request": request,
        "signed_in": who,
        "actor": who.actor if who else None,
        "csrf_token": who.csrf_token if who else None,
        "lang": lang,
        "feature_scripts": request.app[FEATURE_SCRIPTS],
        "feature_styles": request.app[FEATURE_STYLES],
    }


def setup_rendering(app: web.Application, localizer: Localizer) -> None:
    settings = app[SERVICES].settings
    try:
        zone = ZoneInfo(settings.timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
    )
    localizer.install(env)

    @jinja2.pass_context
    def when(context: Any, value: datetime | str | None, fmt: str = "medium") -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            text = value
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                return text
        lang = context.get("lang", "en")
        return format_datetime(as_utc(value), fmt, tzinfo=zone, locale=lang)

    def priority_name(value: int | str) -> str:
        try:
            return Priority(int(value)).name.lower()
        except (TypeError, ValueError):
            return str(value)

    env.filters["when"] = when
    env.filters["phone"] = format_phone
    env.filters["priority_name"] = priority_name
