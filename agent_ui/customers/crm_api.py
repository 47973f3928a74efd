"""REST for the company's CRM: create or update a customer keyed by the CRM's id.

- ``PUT   /api/v1/customers/by-external-id/{external_id}``  the record as the CRM has it (attributes replaced)
- ``PATCH /api/v1/customers/by-external-id/{external_id}``  some fields (attributes merged, null removes one)

Both answer 201 with the new customer or 200 with the changed one. API-token (or session
and CSRF) authenticated like the rest of the API; a body that is not a JSON object, too
deep, too large or with a field of the wrong type is a 4xx naming the field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.input_caps import CAPS
from agent_ui.base.inputs import optional_str, read_json, str_list
from agent_ui.base.keys import SERVICES
from core.customer_sync import FIELDS, sync_customer
from core.customers import customer_dict
from core.errors import InvalidInput
from core.records import Tier

SCHEMA = "CustomerSync"


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    """The body's fields with their types checked (the service checks their values)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput("these fields cannot be set", {"field": unknown[0], "fields": unknown})
    checked: dict[str, Any] = {}
    for key in ("name", "language", "notes", "tier_override", "tier_reason"):
        if key in data:
            checked[key] = optional_str(data, key)
    for key in ("phones", "emails", "tags"):
        if key in data:
            checked[key] = str_list(data, key)
    if "attributes" in data:
        checked["attributes"] = data["attributes"]
    return checked


async def _sync(request: web.Request, replace: bool) -> web.Response:
    actor = actor_of(request)
    data = _checked(await read_json(request, SCHEMA))
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        customer, created = await sync_customer(
            session, actor, request.match_info["external_id"], data, replace=replace,
            region=services.settings.phone_region, now=services.clock.now())
        body = {"customer": customer_dict(customer), "created": created}
    return web.json_response(body, status=201 if created else 200)


async def put_customer(request: web.Request) -> web.Response:
    return await _sync(request, replace=True)


async def patch_customer(request: web.Request) -> web.Response:
    return await _sync(request, replace=False)


def _document() -> None:
    value = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True}
    openapi.SCHEMAS[SCHEMA] = {
        "type": "object", "additionalProperties": False,
        "description": "a customer as the CRM has it; unknown fields are a 400 naming them",
        "properties": {
            "name": {"type": "string"}, "phones": {"type": "array", "items": {"type": "string"}},
            "emails": {"type": "array", "items": {"type": "string"}}, "language": {"type": "string", "nullable": True},
            "tags": {"type": "array", "items": {"type": "string"}}, "notes": {"type": "string"},
            "attributes": {"type": "object", "additionalProperties": value, "maxProperties": 50,
                           "description": "CRM attributes the tier rules test (lifetime_value, contract_level, ...): "
                                          "text, numbers or true/false; PUT replaces them, PATCH merges (null removes)"},
            "tier_override": {"type": "string", "enum": [t.value for t in Tier], "nullable": True,
                              "description": "a tier that wins over the tier rules; null clears it"},
            "tier_reason": {"type": "string", "description": "why, with tier_override"},
        },
    }
    for field, cap in CAPS[SCHEMA].items():  # the caps the reader enforces, published (as openapi does)
        prop = openapi.SCHEMAS[SCHEMA]["properties"][field]
        if prop.get("type") == "array":
            prop["items"] = {**prop["items"], "maxLength": cap}
        else:
            prop["maxLength"] = cap
    param = {"name": "external_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 100},
             "description": "the customer's id in the CRM"}
    result = {"type": "object", "properties": {"customer": openapi_parts.ref("Customer"), "created": {"type": "boolean"}}}
    errors = (401, 403, 409, 413)
    put = openapi_parts.operation(
        "Create or replace a customer keyed by the CRM's id (attributes replaced); 201 when created", result,
        body=openapi_parts.ref(SCHEMA), errors=errors)
    patch = openapi_parts.operation(
        "Create or update a customer keyed by the CRM's id (attributes merged); 201 when created", result,
        body=openapi_parts.ref(SCHEMA), errors=errors)
    for op in (put, patch):
        op["responses"]["201"] = {"description": "created", **openapi_parts.as_json(result)}
    openapi.PATHS["/api/v1/customers/by-external-id/{external_id}"] = {"parameters": [param], "put": put, "patch": patch}


def setup_routes(app: web.Application) -> None:
    app.router.add_put("/api/v1/customers/by-external-id/{external_id}", put_customer)
    app.router.add_patch("/api/v1/customers/by-external-id/{external_id}", patch_customer)
    _document()
