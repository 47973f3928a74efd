"""Outbound webhooks: a page and REST for ops (the feature itself is ``integrations``).

- ``GET  /admin/webhooks``                    subscriptions, a form to add one (its secret shown once)
- ``GET  /admin/webhooks/{id}``               one subscription and its delivery log
- ``POST /admin/webhooks/{id}/test|enable|disable|delete``
- ``GET/POST /api/v1/webhooks``, ``GET/PATCH/DELETE /api/v1/webhooks/{id}``,
  ``POST /api/v1/webhooks/{id}/test``, ``GET /api/v1/webhooks/{id}/deliveries``
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import form_of, path_int, read_form, read_json
from agent_ui.base.rendering import render
from core.errors import FrontdeskError, InvalidInput
from core.records import Role
from integrations import EVENT_TYPES, WEBHOOKS, Webhooks, attempt_dict, subscription_dict
from integrations.subscriptions import NAME_CAP
from integrations.targets import URL_CAP


def _webhooks(request: web.Request) -> Webhooks:
    return request.app[WEBHOOKS]


def _made(row: Any, secret: str) -> dict[str, Any]:
    return {**subscription_dict(row), "secret": secret}


# -- REST -----------------------------------------------------------------------------------
async def list_api(request: web.Request) -> web.Response:
    rows = await _webhooks(request).subscriptions.all(actor_of(request))
    return web.json_response({"webhooks": [subscription_dict(r) for r in rows], "event_types": list(EVENT_TYPES)})


async def create_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    data = await read_json(request, "WebhookDraft")
    row, secret = await _webhooks(request).subscriptions.create(actor, data)
    return web.json_response(_made(row, secret), status=201, headers={"Cache-Control": "no-store"})


async def get_api(request: web.Request) -> web.Response:
    row = await _webhooks(request).subscriptions.get(actor_of(request), path_int(request, "webhook_id"))
    return web.json_response(subscription_dict(row))


async def update_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    data = await read_json(request, "WebhookDraft")
    row = await _webhooks(request).subscriptions.update(actor, path_int(request, "webhook_id"), data)
    return web.json_response(subscription_dict(row))


async def delete_api(request: web.Request) -> web.Response:
    row = await _webhooks(request).subscriptions.delete(actor_of(request), path_int(request, "webhook_id"))
    return web.json_response({**subscription_dict(row), "deleted": True})


async def test_api(request: web.Request) -> web.Response:
    event_id = await _webhooks(request).send_test(actor_of(request), path_int(request, "webhook_id"))
    return web.json_response({"event_id": event_id}, status=202)


async def deliveries_api(request: web.Request) -> web.Response:
    rows = await _webhooks(request).subscriptions.log(actor_of(request), path_int(request, "webhook_id"))
    return web.json_response({"deliveries": [attempt_dict(r) for r in rows]})


# -- the page --------------------------------------------------------------------------------
async def _page(request: web.Request, made: dict[str, Any] | None = None, error: FrontdeskError | None = None,
                typed: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    actor = actor_of(request)
    rows = await _webhooks(request).subscriptions.all(actor)
    context = {"webhooks": [subscription_dict(r) for r in rows], "event_types": EVENT_TYPES, "made": made,
               "error": error, "typed": typed or {}, "name_cap": NAME_CAP, "url_cap": URL_CAP}
    response = render("webhooks/list.html", request, context, status=status)
    if made:
        response.headers["Cache-Control"] = "no-store"  # the secret is on this answer only
    return response


async def list_page(request: web.Request) -> web.Response:
    return await _page(request)


async def create_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    form = await read_form(request, "WebhookDraft")
    events = [e for e in (await form_of(request)).getall("events", []) if isinstance(e, str)]
    data = {"name": form.get("name", ""), "url": form.get("url", ""), "events": events}
    try:
        row, secret = await _webhooks(request).subscriptions.create(actor, data)
    except InvalidInput as exc:  # the form again, with what was typed and the reason
        return await _page(request, error=exc, typed=data, status=400)
    return await _page(request, made=_made(row, secret), status=201)


async def detail_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    webhooks = _webhooks(request)
    webhook_id = path_int(request, "webhook_id")
    row = await webhooks.subscriptions.get(actor, webhook_id)
    log = await webhooks.subscriptions.log(actor, webhook_id)
    context = {"webhook": subscription_dict(row), "log": [attempt_dict(a) for a in log],
               "tested": request.query.get("tested", "")[:64]}
    return render("webhooks/detail.html", request, context)


async def test_form(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    webhook_id = path_int(request, "webhook_id")
    event_id = await _webhooks(request).send_test(actor_of(request), webhook_id)
    raise web.HTTPSeeOther(f"/admin/webhooks/{webhook_id}?tested={event_id}")


async def enable_form(request: web.Request) -> web.StreamResponse:
    return await _switch(request, True)


async def disable_form(request: web.Request) -> web.StreamResponse:
    return await _switch(request, False)


async def _switch(request: web.Request, enabled: bool) -> web.StreamResponse:
    await read_form(request)
    webhook_id = path_int(request, "webhook_id")
    await _webhooks(request).subscriptions.update(actor_of(request), webhook_id, {"enabled": enabled})
    raise web.HTTPSeeOther(f"/admin/webhooks/{webhook_id}")


async def delete_form(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await _webhooks(request).subscriptions.delete(actor_of(request), path_int(request, "webhook_id"))
    raise web.HTTPSeeOther("/admin/webhooks")


def _document() -> None:
    event_types = {"type": "string", "enum": list(EVENT_TYPES)}
    fields: dict[str, Any] = {
        "id": {"type": "integer"}, "name": {"type": "string"}, "url": {"type": "string"},
        "events": {"type": "array", "items": event_types}, "enabled": {"type": "boolean"},
        "secret_hint": {"type": "string"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}}
    webhook = {"type": "object", "properties": fields}
    made = {"type": "object", "properties": {
        **fields, "secret": {"type": "string", "description": "signs every delivery; shown only in this answer"}}}
    draft: dict[str, Any] = {
        "name": {"type": "string", "maxLength": NAME_CAP},
        "url": {"type": "string", "maxLength": URL_CAP, "description": "http:// or https://, no user name or password"},
        "events": {"type": "array", "items": event_types, "minItems": 1},
        "enabled": {"type": "boolean"}}
    attempt = {"type": "object", "properties": {
        "id": {"type": "integer"}, "event_id": {"type": "string"}, "event_type": {"type": "string"},
        "attempt": {"type": "integer"}, "status_code": {"type": ["integer", "null"]},
        "duration_ms": {"type": "integer"}, "error": {"type": ["string", "null"]},
        "outcome": {"type": "string", "enum": ["delivered", "retrying", "failed"]}, "at": {"type": "string"}}}
    op = openapi_parts.operation
    errors = (401, 403, 404)
    openapi.PATHS.update({
        "/api/v1/webhooks": {
            "get": op("Webhook subscriptions (ops)", {"type": "object", "properties": {
                "webhooks": {"type": "array", "items": webhook}, "event_types": {"type": "array", "items": event_types}}}),
            "post": op("Subscribe a URL to events; the answer carries the signing secret, shown only once (ops)",
                       made, status="201", body={"type": "object", "required": ["url", "events"], "properties": draft}),
        },
        "/api/v1/webhooks/{webhook_id}": {
            "parameters": [openapi_parts.path_id("webhook_id")],
            "get": op("One webhook subscription (ops)", webhook, errors=errors),
            "patch": op("Change a subscription: name, url, events, enabled (ops)", webhook,
                        body={"type": "object", "properties": draft}, errors=errors),
            "delete": op("Remove a subscription, its log and what still waited to be sent (ops)", webhook,
                         errors=errors),
        },
        "/api/v1/webhooks/{webhook_id}/test": {
            "parameters": [openapi_parts.path_id("webhook_id")],
            "post": op("Send a webhook.test event to this subscription (ops; 409 when disabled)",
                       {"type": "object", "properties": {"event_id": {"type": "string"}}}, status="202",
                       errors=(401, 403, 404, 409)),
        },
        "/api/v1/webhooks/{webhook_id}/deliveries": {
            "parameters": [openapi_parts.path_id("webhook_id")],
            "get": op("The subscription's delivery log, newest first (ops)", {"type": "object", "properties": {
                "deliveries": {"type": "array", "items": attempt}}}, errors=errors),
        },
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/webhooks", list_page)
    app.router.add_post("/admin/webhooks", create_form)
    app.router.add_get("/admin/webhooks/{webhook_id:\\d+}", detail_page)
    app.router.add_post("/admin/webhooks/{webhook_id:\\d+}/test", test_form)
    app.router.add_post("/admin/webhooks/{webhook_id:\\d+}/enable", enable_form)
    app.router.add_post("/admin/webhooks/{webhook_id:\\d+}/disable", disable_form)
    app.router.add_post("/admin/webhooks/{webhook_id:\\d+}/delete", delete_form)
    app.router.add_get("/api/v1/webhooks", list_api)
    app.router.add_post("/api/v1/webhooks", create_api)
    app.router.add_get("/api/v1/webhooks/{webhook_id}", get_api)
    app.router.add_patch("/api/v1/webhooks/{webhook_id}", update_api)
    app.router.add_delete("/api/v1/webhooks/{webhook_id}", delete_api)
    app.router.add_post("/api/v1/webhooks/{webhook_id}/test", test_api)
    app.router.add_get("/api/v1/webhooks/{webhook_id}/deliveries", deliveries_api)
    _document()
