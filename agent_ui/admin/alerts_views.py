"""SLA pages and API: the ticket's clock, acknowledging, the alerts log, policies, inbound SMS.

Thin handlers: read the request, call ``SlaService``/``PolicyStore`` (which check roles),
present the result. Routes:

- ``GET  /api/v1/tickets/{id}/sla``        the clock (business time left, level)
- ``POST /api/v1/tickets/{id}/sla/ack``    acknowledge (JSON); ``POST /tickets/{id}/sla/ack`` (form)
- ``GET  /api/v1/alerts``                  the alerts log (supervisors); ``GET /alerts`` the page
  (filters: level, channel, status, from/to, ticket; ``page``; an acknowledge button per open alert)
- ``GET  /api/v1/sla/policies``            policies and calendars (supervisors, ops)
- ``PUT/DELETE /api/v1/sla/policies/{name}``, ``PUT /api/v1/sla/calendars/{name}`` (ops)
- ``GET  /admin/sla``, ``POST /admin/sla`` the policy/calendar editor (YAML, ops)
- ``POST /api/v1/sms/inbound``             gateway webhook (signed); ``ACK`` stops the ladder
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, cast
from zoneinfo import ZoneInfo

import yaml
from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.login.views import safe_next
from alerts.keys import SLA
from alerts.log_query import CHANNELS, STATUSES, AlertFilter, Status
from alerts.sms.inbound import ReplayGuard, parse_inbound
from core.errors import InvalidInput
from core.records import ticket_id_of_number


async def ticket_sla(request: web.Request) -> web.Response:
    actor = actor_of(request)
    parts = request.app[SLA]
    async with request.app[SERVICES].db.session() as session:
        return web.json_response(await parts.service.ticket_sla(session, actor, path_int(request, "ticket_id")))


async def _acknowledge(request: web.Request) -> int:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        closed = await request.app[SLA].service.acknowledge(session, actor, path_int(request, "ticket_id"))
        await services.desk.commit_and_publish(session)
    return closed


async def acknowledge_api(request: web.Request) -> web.Response:
    return web.json_response({"acknowledged": await _acknowledge(request)})


async def acknowledge_form(request: web.Request) -> web.Response:
    """From the ticket page back to the ticket; from the alerts log (``next``) back to the same page."""
    form = await read_form(request)
    await _acknowledge(request)
    back = str(form.get("next", ""))
    raise web.HTTPSeeOther(safe_next(back) if back else f"/tickets/{path_int(request, 'ticket_id')}")


def _limit(request: web.Request) -> int:
    return as_int(request.query.get("limit", "100"), "limit")


async def alerts_api(request: web.Request) -> web.Response:
    """The log as JSON with the page's filters; ``unacknowledged=1`` (older clients) means ``status=open``."""
    actor = actor_of(request)
    wanted = _alert_filter(request)
    if request.query.get("unacknowledged") == "1":
        wanted = dataclasses.replace(wanted, status="open")
    size = min(max(_limit(request), 1), 1000)
    async with request.app[SERVICES].db.session() as session:
        found = await request.app[SLA].service.alerts_page(session, actor, wanted, _page(request), size)
    return web.json_response({"alerts": found.rows, "page": found.page, "has_next": found.has_next})


MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000


def _alert_filter(request: web.Request) -> AlertFilter:
    """The log's filters from the query string; an unreadable value is a 400 naming the field.

    Dates are whole days in the site's time zone (``to`` includes its day); ``ticket`` is the
    number people see (``1042`` or ``#1042``).
    """
    query = request.query
    zone = ZoneInfo(request.app[SERVICES].settings.timezone or "UTC")

    def day(name: str) -> date | None:
        text = query.get(name, "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput("a date is written YYYY-MM-DD", {"field": name}) from None

    def start_of(d: date) -> datetime:
        return datetime.combine(d, clock_time(), zone).astimezone(UTC)

    level = query.get("level", "").strip()
    channel = query.get("channel", "").strip() or None
    status = query.get("status", "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput("unknown channel", {"field": "channel", "channels": list(CHANNELS)})
    if status is not None and status not in STATUSES:
        raise InvalidInput("unknown status", {"field": "status", "statuses": list(STATUSES)})
    ticket = query.get("ticket", "").strip().lstrip("#")
    ticket_id = None
    if ticket:
        ticket_id = ticket_id_of_number(as_int(ticket, "ticket")) or -1  # no such number: no rows
        ticket_id = ticket_id if ticket_id <= MAX_ID else -1  # past a 32-bit id column: no rows either
    since, until = day("from"), day("to")
    level_number = as_int(level, "level") if level else None
    if level_number is not None and not 1 <= level_number <= 99:
        raise InvalidInput("level must be 1 to 99", {"field": "level"})
    return AlertFilter(
        level=level_number,
        channel=channel,
        status=cast(Status, status) if status else None,
        since=start_of(since) if since else None,
        until=start_of(until + timedelta(days=1)) if until else None,
        ticket_id=ticket_id,
    )


def _page(request: web.Request) -> int:
    page = as_int(request.query.get("page", "1") or "1", "page")
    if not 1 <= page <= MAX_PAGE:  # an offset past a 64-bit integer is an error in the database
        raise InvalidInput("page must be 1 to 1000000", {"field": "page"})
    return page


def _page_link(request: web.Request, page: int) -> str:
    """This page's address with another page number (the filters kept)."""
    return str(request.rel_url.update_query(page=str(page)))


async def alerts_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    service = request.app[SLA].service
    wanted, page = _alert_filter(request), _page(request)
    async with request.app[SERVICES].db.session() as session:
        found = await service.alerts_page(session, actor, wanted, page)
        failures = await service.failures(session, actor)
    return render("alerts/log.html", request, {
        "alerts": found.rows, "failures": failures, "page": found.page,
        "previous": _page_link(request, found.page - 1) if found.page > 1 else None,
        "next": _page_link(request, found.page + 1) if found.has_next else None,
        "query": request.query, "statuses": STATUSES, "channels": CHANNELS, "filtered": wanted.active,
        "here": str(request.rel_url),
    })


async def _policies(request: web.Request) -> dict[str, Any]:
    actor = actor_of(request)
    store = request.app[SLA].store
    async with request.app[SERVICES].db.session() as session:
        policies = await store.list_policies(session, actor)
        calendars = await store.list_calendars(session, actor)
    return {
        "policies": [{**p.definition, "version": p.version} for p in policies],
        "calendars": [{**c.definition, "version": c.version} for c in calendars],
    }


async def policies_api(request: web.Request) -> web.Response:
    return web.json_response(await _policies(request))


async def _save(request: web.Request, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    actor = actor_of(request)
    parts = request.app[SLA]
    async with request.app[SERVICES].db.transaction() as session:
        if kind == "policy":
            row: Any = await parts.store.save_policy(session, actor, data)
        else:
            row = await parts.store.save_calendar(session, actor, data)
        saved = {**row.definition, "version": row.version}
    parts.service.recompute_open_tickets()  # in the background, in batches
    return saved


async def save_policy_api(request: web.Request) -> web.Response:
    actor_of(request)  # who is asking before what is asked
    data = await read_json(request)
    data["name"] = request.match_info["name"]
    return web.json_response(await _save(request, "policy", data))


async def save_calendar_api(request: web.Request) -> web.Response:
    actor_of(request)  # who is asking before what is asked
    data = await read_json(request)
    data["name"] = request.match_info["name"]
    return web.json_response(await _save(request, "calendar", data))


async def delete_policy_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    parts = request.app[SLA]
    async with request.app[SERVICES].db.transaction() as session:
        await parts.store.delete_policy(session, actor, request.match_info["name"])
    parts.service.recompute_open_tickets()
    return web.json_response({"deleted": request.match_info["name"]})


async def admin_page(request: web.Request) -> web.Response:
    data = await _policies(request)
    dump = {key: [{k: v for k, v in d.items() if k != "version"} for d in data[key]] for key in data}
    docs = {
        "policies": [yaml.safe_dump(p, allow_unicode=True, sort_keys=False) for p in dump["policies"]],
        "calendars": [yaml.safe_dump(c, allow_unicode=True, sort_keys=False) for c in dump["calendars"]],
    }
    return render("alerts/admin.html", request, {**data, "docs": docs, "error": None})


async def admin_save(request: web.Request) -> web.Response:
    actor_of(request)
    form = await read_form(request)
    kind = form.get("kind")
    try:
        data = yaml.safe_load(str(form.get("definition", "")))
    except yaml.YAMLError:
        raise InvalidInput("the definition is not valid YAML", {"field": "definition"}) from None
    except RecursionError:  # PyYAML recurses per nesting level
        raise InvalidInput("the definition nests too deeply", {"field": "definition"}) from None
    if kind not in ("policy", "calendar") or not isinstance(data, dict):
        raise InvalidInput("send kind=policy|calendar and a YAML mapping as definition")
    await _save(request, str(kind), data)
    raise web.HTTPSeeOther("/admin/sla")


# Webhook calls already accepted by this process (one server instance; see README).
SMS_REPLAYS: web.AppKey[ReplayGuard] = web.AppKey("sms_replays", ReplayGuard)


async def sms_inbound(request: web.Request) -> web.Response:
    """The gateway's webhook: only signed calls count; ``ACK`` from a staff mobile acknowledges."""
    sms_settings = request.app[SERVICES].settings.sla.sms
    secret = sms_settings.inbound_secret.get_secret_value() if sms_settings.inbound_secret else None
    token = sms_settings.twilio.auth_token.get_secret_value() or None
    sms = parse_inbound(
        await request.read(), request.content_type, request.headers, str(request.url), secret, token,
        request.app[SERVICES].clock.now(), request.app[SMS_REPLAYS],
    )
    return web.json_response(await request.app[SLA].service.acknowledge_by_sms(sms))


_OBJ: dict[str, Any] = {"type": "object"}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
SCHEMAS: dict[str, Any] = {
    "SlaClock": {"type": "object", "properties": {
        "policy": {"type": "string", "nullable": True}, "business_time": {"type": "boolean"},
        "paused": {"type": "boolean"}, "next_step_at": {"type": "string", "nullable": True},
        "targets": {"type": "array", "items": _OBJ}, "escalations": {"type": "array", "items": _OBJ},
        "can_acknowledge": {"type": "boolean"}}},
    "SlaPolicy": {"type": "object", "description": "a PolicyDefinition: name, position, match, calendar, "
                  "first_response_minutes, next_response_minutes, resolution_minutes, levels"},
    "SlaCalendar": {"type": "object", "description": "name, timezone, hours {mon: ['09:00-18:00']}, holidays"},
}
PATHS: dict[str, Any] = {
    "/api/v1/tickets/{ticket_id}/sla": {
        "parameters": [openapi_parts.path_id("ticket_id")],
        "get": openapi_parts.operation("The ticket's SLA clock: business time left per target, ladder level",
                           openapi_parts.ref("SlaClock"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/sla/ack": {
        "parameters": [openapi_parts.path_id("ticket_id")],
        "post": openapi_parts.operation("Acknowledge the SLA alert: the escalation ladder stops",
                            {"type": "object", "properties": {"acknowledged": {"type": "integer"}}},
                            errors=(401, 403, 404)),
    },
    "/api/v1/alerts": {"get": openapi_parts.operation(
        "The SLA alerts log with delivery results (supervisors)", {"type": "object", "properties": {
            "alerts": {"type": "array", "items": _OBJ}, "page": {"type": "integer"},
            "has_next": {"type": "boolean"}}},
        params=[openapi_parts.query("unacknowledged", "1 for open alerts only"),
                openapi_parts.query("limit", "at most this many per page", {"type": "integer"}),
                openapi_parts.query("page", "page number, from 1", {"type": "integer"}),
                openapi_parts.query("level", "escalation level, from 1", {"type": "integer"}),
                openapi_parts.query("channel", "email or sms: a delivery by that channel"),
                openapi_parts.query("status", "open, acknowledged, sent or failed"),
                openapi_parts.query("from", "fired on or after this day (YYYY-MM-DD, site time zone)"),
                openapi_parts.query("to", "fired on or before this day (YYYY-MM-DD)"),
                openapi_parts.query("ticket", "ticket number (1042)")])},
    "/api/v1/sla/policies": {"get": openapi_parts.operation(
        "SLA policies and business calendars (supervisors, ops)", {"type": "object", "properties": {
            "policies": {"type": "array", "items": openapi_parts.ref("SlaPolicy")},
            "calendars": {"type": "array", "items": openapi_parts.ref("SlaCalendar")}}})},
    "/api/v1/sla/policies/{name}": {
        "parameters": [_NAME],
        "put": openapi_parts.operation("Create or replace a policy (ops); open tickets are recomputed in the background",
                           openapi_parts.ref("SlaPolicy"), body=openapi_parts.ref("SlaPolicy")),
        "delete": openapi_parts.operation("Delete a policy (ops)", _OBJ, errors=(401, 403, 404)),
    },
    "/api/v1/sla/calendars/{name}": {
        "parameters": [_NAME],
        "put": openapi_parts.operation("Create or replace a business calendar (ops)", openapi_parts.ref("SlaCalendar"),
                           body=openapi_parts.ref("SlaCalendar")),
    },
    "/api/v1/sms/inbound": {"post": {
        "summary": "SMS gateway webhook (signed: X-Frontdesk-Timestamp, -Nonce and -Signature, or X-Twilio-Signature; stale or repeated calls are refused); ACK stops the ladder",
        "security": [],
        "requestBody": {"content": {"application/json": {"schema": _OBJ},
                                    "application/x-www-form-urlencoded": {"schema": _OBJ}}},
        "responses": {"200": {"description": "OK"}, "401": {"description": "not signed, or stale"},
                      "403": {"description": "not a staff phone"}, "409": {"description": "a replay"}}}},
}


def setup_routes(app: web.Application) -> None:
    openapi.PATHS.update(PATHS)
    openapi.SCHEMAS.update(SCHEMAS)
    app.router.add_get("/api/v1/tickets/{ticket_id:\\d+}/sla", ticket_sla)
    app.router.add_post("/api/v1/tickets/{ticket_id:\\d+}/sla/ack", acknowledge_api)
    app.router.add_post("/tickets/{ticket_id:\\d+}/sla/ack", acknowledge_form)
    app.router.add_get("/api/v1/alerts", alerts_api)
    app.router.add_get("/alerts", alerts_page)
    app.router.add_get("/api/v1/sla/policies", policies_api)
    app.router.add_put("/api/v1/sla/policies/{name}", save_policy_api)
    app.router.add_delete("/api/v1/sla/policies/{name}", delete_policy_api)
    app.router.add_put("/api/v1/sla/calendars/{name}", save_calendar_api)
    app.router.add_get("/admin/sla", admin_page)
    app.router.add_post("/admin/sla", admin_save)
    app.router.add_post("/api/v1/sms/inbound", sms_inbound)
    app[SMS_REPLAYS] = ReplayGuard()
