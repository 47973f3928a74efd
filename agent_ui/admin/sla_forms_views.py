"""SLA policies and business calendars as forms (the YAML editor on ``/admin/sla`` stays for
bulk edits). Each form builds the same definition the YAML holds and saves it through
``PolicyStore`` (which checks roles and values, audits and bumps the version); a refused
value comes back next to its input, named by its path (``levels.0.at``). The policy form's
"Preview" button saves nothing: it shows when each level would fire for a ticket opened now,
and what its messages would say (``alerts.policy_preview``).

- ``GET/POST /admin/sla/policies/{name}``    a policy (``/admin/sla/policies/new`` adds one)
- ``GET/POST /admin/sla/calendars/{name}``   a calendar's hours and holidays, with a holiday
  list imported from a CSV or iCalendar file (``/admin/sla/calendars/new`` adds one)
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import form_of, read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render, request_language
from alerts.holiday_import import holidays_from_file
from alerts.keys import SLA
from alerts.policy_preview import LevelPreview, preview_policy
from core.errors import InvalidInput
from core.records import Role

PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("sms", "email")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TARGETS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
BLANK_LEVEL = {"at": "", "channels": [], "recipients": [], "template": "", "subject": "", "working_hours": False}
IMPORT_CAP = 256 * 1024  # a year's holidays fit in a few kilobytes


def _words(text: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", text) if w.strip()]


def _minutes(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # the store refuses it, naming the field


def policy_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The form's inputs as a policy definition (what the YAML editor would hold)."""
    levels = []
    for n in range(20):
        at = form.get(f"levels.{n}.at", "").strip()
        if not at:
            continue
        levels.append({"at": at, "channels": [c for c in CHANNELS if form.get(f"levels.{n}.channels.{c}")],
                       "recipients": _words(form.get(f"levels.{n}.recipients", "")),
                       "template": form.get(f"levels.{n}.template", ""), "subject": form.get(f"levels.{n}.subject", ""),
                       "working_hours": bool(form.get(f"levels.{n}.working_hours"))})
    match = {"priority": [p for p in PRIORITIES if form.get(f"match.priority.{p}")],
             "channel": _words(form.get("match.channel", "")), "queue": _words(form.get("match.queue", ""))}
    position = form.get("position", "100").strip()
    return {"name": form.get("name", "").strip(), "position": int(position) if position.lstrip("-").isdigit() else position,
            "enabled": bool(form.get("enabled")), "calendar": form.get("calendar") or None, "match": match,
            **{t: _minutes(form.get(t, "")) for t in TARGETS}, "levels": levels}


def _errors(exc: InvalidInput) -> dict[str, str]:
    fields = exc.details.get("fields")
    if isinstance(fields, dict) and fields:
        return {str(k): str(v) for k, v in fields.items()}
    return {str(exc.details.get("field") or "form"): exc.message}


async def _calendar_names(request: web.Request) -> list[str]:
    async with request.app[SERVICES].db.session() as session:
        return [c.name for c in await request.app[SLA].store.list_calendars(session, actor_of(request))]


async def _render_policy(request: web.Request, policy: dict[str, Any], is_new: bool, errors: dict[str, str],
                         status: int = 200, preview: list[LevelPreview] | None = None) -> web.Response:
    levels = [*policy.get("levels", []), BLANK_LEVEL]
    context = {"policy": policy, "levels": levels, "is_new": is_new, "errors": errors, "priorities": PRIORITIES,
               "channels": CHANNELS, "calendars": await _calendar_names(request), "targets": TARGETS,
               "preview": preview, "opened_at": request.app[SERVICES].clock.now()}
    return render("alerts/policy_form.html", request, context, status=status)


async def policy_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    name = request.match_info["name"]
    if name == "new":
        return await _render_policy(request, {"name": "", "position": 100, "enabled": True, "match": {}, "levels": []},
                                    True, {})
    async with request.app[SERVICES].db.session() as session:
        found = [p for p in await request.app[SLA].store.list_policies(session, actor) if p.name == name]
    if not found:
        raise web.HTTPNotFound()
    return await _render_policy(request, dict(found[0].definition), False, {})


async def save_policy_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    form = await read_form(request)
    is_new = request.match_info["name"] == "new"
    if not is_new:
        form["name"] = request.match_info["name"]
    policy = policy_from_form(form)
    parts = request.app[SLA]
    services = request.app[SERVICES]
    try:
        if form.get("preview"):  # the "Preview" button: nothing is saved
            async with services.db.session() as session:
                rows = await preview_policy(session, actor, parts.store, parts.ladder.messages, policy,
                                            services.clock.now(), request_language(request))
            return await _render_policy(request, policy, is_new, {}, preview=rows)
        async with services.db.transaction() as session:
            await parts.store.save_policy(session, actor, policy)
    except InvalidInput as exc:
        actor.require(Role.OPS)
        return await _render_policy(request, policy, is_new, _errors(exc), status=400)
    parts.service.recompute_open_tickets()
    raise web.HTTPSeeOther(f"/admin/sla/policies/{policy['name']}?saved=1")


def calendar_from_form(form: dict[str, str], imported: list[str]) -> dict[str, Any]:
    hours = {d: _words(form.get(f"hours.{d}", "")) for d in DAYS}
    holidays = sorted(set(_words(form.get("holidays", "")) + imported))
    return {"name": form.get("name", "").strip(), "timezone": form.get("timezone", "").strip(),
            "hours": {d: spans for d, spans in hours.items() if spans}, "holidays": holidays}


async def _render_calendar(request: web.Request, calendar: dict[str, Any], is_new: bool, errors: dict[str, str],
                           status: int = 200) -> web.Response:
    context = {"calendar": calendar, "is_new": is_new, "errors": errors, "days": DAYS}
    return render("alerts/calendar_form.html", request, context, status=status)


async def calendar_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    name = request.match_info["name"]
    if name == "new":
        return await _render_calendar(request, {"name": "", "timezone": "", "hours": {}, "holidays": []}, True, {})
    async with request.app[SERVICES].db.session() as session:
        found = [c for c in await request.app[SLA].store.list_calendars(session, actor) if c.name == name]
    if not found:
        raise web.HTTPNotFound()
    return await _render_calendar(request, dict(found[0].definition), False, {})


async def save_calendar_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    form = await read_form(request)
    is_new = request.match_info["name"] == "new"
    if not is_new:
        form["name"] = request.match_info["name"]
    upload = (await form_of(request)).get("holiday_file")
    imported: list[str] = []
    calendar = calendar_from_form(form, [])
    parts = request.app[SLA]
    try:
        if isinstance(upload, web.FileField):
            raw = upload.file.read(IMPORT_CAP + 1)
            if len(raw) > IMPORT_CAP:
                raise InvalidInput("the holiday file is too large", {"field": "holiday_file"})
            imported = holidays_from_file(upload.filename or "", raw)
        calendar = calendar_from_form(form, imported)
        async with request.app[SERVICES].db.transaction() as session:
            await parts.store.save_calendar(session, actor, calendar)
    except InvalidInput as exc:
        actor.require(Role.OPS)
        errors = _errors(exc)
        if "holidays" in exc.message and "holidays" not in errors:
            errors = {"holidays": exc.message}
        elif "working hours" in exc.message or "weekdays" in exc.message:
            errors = {"hours": exc.message}
        elif "time zone" in exc.message:
            errors = {"timezone": exc.message}
        return await _render_calendar(request, calendar, is_new, errors, status=400)
    parts.service.recompute_open_tickets()
    raise web.HTTPSeeOther(f"/admin/sla/calendars/{calendar['name']}?saved=1&imported={len(imported)}")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/sla/policies/{name}", policy_page)
    app.router.add_post("/admin/sla/policies/{name}", save_policy_form)
    app.router.add_get("/admin/sla/calendars/{name}", calendar_page)
    app.router.add_post("/admin/sla/calendars/{name}", save_calendar_form)
