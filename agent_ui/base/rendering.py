"""Server-rendered pages: one Jinja2 environment (autoescaped, translatable) for every feature.

Each feature package keeps its templates in its own ``templates/`` folder; the loader
searches them all, so a template is named by its path inside that folder
(``wallboard/board.html``, ``base.html``) whichever feature ships it.
Render with ``render(template, request, context)``: every page also gets ``request``,
``signed_in``, ``actor``, ``csrf_token``, ``lang``, ``feature_scripts`` and ``feature_styles``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from agent_ui.base.i18n import Localizer
from agent_ui.base.identity import signed_in
from agent_ui.base.input_caps import CAPS
from agent_ui.base.keys import FEATURE_SCRIPTS, FEATURE_STYLES, LOCALIZER, SERVICES
from core.clock import as_utc
from core.phones import format_phone
from core.records import Priority

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def page_bytes(text: str) -> bytes:
    """The page as UTF-8. Text stored before the edge refused lone surrogates (a JSON
    payload can still hold one) shows as U+FFFD instead of failing every later view."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def render(
    template: str, request: web.Request, context: dict[str, Any], status: int = 200
) -> web.Response:
    """Render a page with the common context (who, CSRF token, language, feature assets)."""
    text = aiohttp_jinja2.render_string(template, request, {**page_context(request), **context})
    return web.Response(body=page_bytes(text), status=status, content_type="text/html", charset="utf-8")


def request_language(request: web.Request) -> str:
    """A person's own choice, else the site's default; before login, what the browser asks for."""
    who = signed_in(request)
    localizer = request.app[LOCALIZER]
    return localizer.pick(who.user.language) if who else localizer.pick(*accepted_languages(request))


def page_context(request: web.Request) -> dict[str, Any]:
    who = signed_in(request)
    lang = request_language(request)
    localizer = request.app[LOCALIZER]
    return {
        "request": request,
        "signed_in": who,
        "actor": who.actor if who else None,
        "csrf_token": who.csrf_token if who else None,
        "lang": lang,
        "languages": localizer.languages,
        "feature_scripts": request.app[FEATURE_SCRIPTS],
        "feature_styles": request.app[FEATURE_STYLES],
    }


def accepted_languages(request: web.Request) -> list[str]:
    """A browser's ``Accept-Language`` tags, best first (used until the person picks one)."""
    tags: list[tuple[float, str]] = []
    for part in request.headers.get("Accept-Language", "").split(",")[:10]:
        tag, _, params = part.strip().partition(";")
        try:
            weight = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        if tag and tag != "*" and weight > 0:
            tags.append((weight, tag))
    return [tag for _, tag in sorted(tags, key=lambda item: -item[0])]


def setup_rendering(app: web.Application, localizer: Localizer, template_dirs: Sequence[Path]) -> None:
    settings = app[SERVICES].settings
    try:
        zone = ZoneInfo(settings.timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(list(template_dirs)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
    )
    localizer.install(env)
    env.globals["caps"] = CAPS

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

    @jinja2.pass_context
    def number(context: Any, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        return format_decimal(round(value, digits), format="#,##0" + ("." + "0" * digits if digits else ""),
                              locale=context.get("lang", "en"))

    @jinja2.pass_context
    def percent(context: Any, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        return format_percent(value, format="#,##0" + ("." + "0" * digits if digits else "") + "%",
                              locale=context.get("lang", "en"))

    @jinja2.pass_context
    def duration(context: Any, seconds: float | None) -> str:
        """A span as a clock reads it (``1:05``, ``1:02:03``): the same in every language."""
        if seconds is None:
            return "–"
        whole = round(seconds)
        hours, rest = divmod(whole, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"

    @jinja2.pass_context
    def day(context: Any, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = as_utc(value).astimezone(zone).date()
        return format_date(value, "medium", locale=context.get("lang", "en"))

    def language_name(tag: str) -> str:
        """A language named in itself (``English``, ``中文 (中国)``), as a switcher shows it."""
        try:
            return Locale.parse(tag).get_display_name(tag) or tag
        except (ValueError, TypeError):
            return tag

    env.filters["when"] = when
    env.filters["as_utc"] = as_utc
    env.filters["language_name"] = language_name
    env.filters["number"] = number
    env.filters["percent"] = percent
    env.filters["duration"] = duration
    env.filters["day"] = day
    env.filters["phone"] = format_phone
    env.filters["priority_name"] = priority_name
