"""CTI from the console and the API: the agent's phone state, click-to-dial, hang-up,
transfers, queue log-in/out, status, and "create customer" from an unknown caller's pop.

Thin handlers: read input, call ``CallControl`` (which checks who may do what), answer
JSON. A PBX refusal, a timeout or a dropped link comes back as a JSON error the panel
shows to the agent.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.contact_masking import shown_customer
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_str, read_json
from agent_ui.base.keys import SERVICES
from core.customers import CustomerDraft, create_customer, customer_dict
from core.errors import InvalidInput, NotFound, Unavailable
from core.records import CustomerPhone
from cti.control import CallControl
from cti.plugin import CTI


def _control(request: web.Request) -> CallControl:
    service = request.app.get(CTI)
    if service is None:
        raise Unavailable("the CTI is not running")
    return service.control


def _text(data: dict[str, Any], name: str) -> str:
    value = optional_str(data, name)
    if not value or not value.strip():
        raise InvalidInput(f"{name} is required")
    return value.strip()


async def me(request: web.Request) -> web.Response:
    return web.json_response(_control(request).agent_view(actor_of(request)))


async def dial(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    if data.get("phone_id") is not None:
        # A customer's number by its id: a person who sees numbers masked still dials them.
        phone_id = as_int(data.get("phone_id"), "phone_id")
        async with request.app[SERVICES].db.session() as session:
            phone = await session.get(CustomerPhone, phone_id) if 1 <= phone_id < 2**31 else None
        if phone is None:
            raise NotFound("no such phone number", {"field": "phone_id"})
        number = phone.e164
    else:
        number = _text(data, "number")
    result = await _control(request).dial(actor, number, optional_str(data, "pbx"))
    return web.json_response(shown_customer(request, result.as_dict()))


async def hangup(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    result = await _control(request).hangup(actor, request.match_info["linkedid"], optional_str(data, "pbx"))
    return web.json_response(result.as_dict())


async def transfer(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    attended = data.get("attended", False)
    if not isinstance(attended, bool):
        raise InvalidInput("attended must be true or false")
    result = await _control(request).transfer(
        actor, request.match_info["linkedid"], _text(data, "target"), attended, optional_str(data, "pbx")
    )
    return web.json_response(result.as_dict())


async def cancel_transfer(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    result = await _control(request).cancel_transfer(actor, request.match_info["linkedid"], optional_str(data, "pbx"))
    return web.json_response(result.as_dict())


async def status(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    result = await _control(request).set_status(
        actor, _text(data, "state"), optional_str(data, "reason") or "", optional_str(data, "pbx")
    )
    return web.json_response(result.as_dict())


async def queue_membership(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    user_id = data.get("user_id")
    if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
        raise InvalidInput("user_id must be a whole number")
    control = _control(request)
    queue = request.match_info["queue"]
    pbx = optional_str(data, "pbx")
    if request.match_info["action"] == "login":
        result = await control.queue_login(actor, queue, user_id, pbx)
    else:
        result = await control.queue_logout(actor, queue, user_id, pbx)
    return web.json_response(result.as_dict())


async def create_caller(request: web.Request) -> web.Response:
    """The pop's one-click "create customer" for an unknown number."""
    actor = actor_of(request)
    data = await read_json(request, "CallerDraft")
    services = request.app[SERVICES]
    draft = CustomerDraft(name=(optional_str(data, "name") or "").strip(), phones=[_text(data, "number")])
    async with services.db.transaction() as session:
        customer = await create_customer(session, actor, draft, services.settings.phone_region)
        body = {"customer": customer_dict(customer)}
    return web.json_response(body, status=201)


def _document() -> None:
    _ok = {"type": "object", "properties": {"ok": {"type": "boolean"}, "message": {"type": "string"}}}
    _body = {"type": "object"}
    errors = (401, 403, 404, 409, 503, 504)
    linkedid = {"name": "linkedid", "in": "path", "required": True, "schema": {"type": "string"}}
    openapi.PATHS.update({
        "/api/v1/cti/me": {"get": openapi_parts.operation("My phone: state, queues and calls in progress", _body)},
        "/api/v1/cti/dial": {"post": openapi_parts.operation("Click-to-dial: ring my phone, then the number, or a customer's phone by phone_id (answers at once; the outcome arrives as cti.progress)", _ok, body=_body, errors=errors)},
        "/api/v1/cti/calls/{linkedid}/hangup": {"post": openapi_parts.operation("Hang up a call", _ok, body=_body, errors=errors, params=[linkedid])},
        "/api/v1/cti/calls/{linkedid}/transfer": {"post": openapi_parts.operation("Transfer (target, attended); an attended transfer's progress arrives as cti.progress", _ok, body=_body, errors=errors, params=[linkedid])},
        "/api/v1/cti/calls/{linkedid}/transfer/cancel": {"post": openapi_parts.operation("Cancel an attended transfer under way: back to the customer", _ok, body=_body, errors=errors, params=[linkedid])},
        "/api/v1/cti/status": {"post": openapi_parts.operation("Set my status: ready, paused (reason) or wrap-up", _ok, body=_body, errors=errors)},
        "/api/v1/cti/queues/{queue}/{action}": {"post": openapi_parts.operation("Queue log-in or log-out (action: login|logout)", _ok, body=_body, errors=errors)},
        "/api/v1/cti/customers": {"post": openapi_parts.operation("Create a customer from an unknown caller's number", _body, status="201", body=openapi_parts.ref("CallerDraft"), errors=(401, 403, 409))},
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/cti/me", me)
    app.router.add_post("/api/v1/cti/dial", dial)
    app.router.add_post("/api/v1/cti/calls/{linkedid}/hangup", hangup)
    app.router.add_post("/api/v1/cti/calls/{linkedid}/transfer", transfer)
    app.router.add_post("/api/v1/cti/calls/{linkedid}/transfer/cancel", cancel_transfer)
    app.router.add_post("/api/v1/cti/status", status)
    app.router.add_post("/api/v1/cti/queues/{queue}/{action:login|logout}", queue_membership)
    app.router.add_post("/api/v1/cti/customers", create_caller)
    _document()
