"""REST for customer administration next to the directory's list/get/create/patch
(``agent_ui.api.directory``): merge, unmerge, one more phone or email (the pop's "link to
existing customer"), link a ticket, and the CSV import (dry run by default)."""

from __future__ import annotations

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_bool, optional_str, path_int, read_json
from agent_ui.base.keys import SERVICES
from core.customer_import import COLUMNS, import_customers, plan_import
from core.customer_linking import link_ticket
from core.customer_merging import merge_customers, undo_deadline, unmerge_customer
from core.customers import add_contact, customer_dict
from core.errors import InvalidInput


async def merge(request: web.Request) -> web.Response:
    """``other_id`` is merged into the customer in the path (the survivor)."""
    actor = actor_of(request)
    survivor_id = path_int(request, "customer_id")
    data = await read_json(request, "CustomerMerge")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        record = await merge_customers(session, actor, survivor_id, as_int(data.get("other_id"), "other_id"),
                                       services.clock.now())
        body = {"merge": {"id": record.id, "survivor_id": record.survivor_id, "merged_id": record.merged_id,
                          "undo_until": undo_deadline(record).isoformat()}}
    return web.json_response(body)


async def unmerge(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        customer = await unmerge_customer(session, actor, path_int(request, "customer_id"), services.clock.now())
        body = {"customer": customer_dict(customer)}
    return web.json_response(body)


async def add_contacts(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "CustomerContact")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        customer = await add_contact(session, actor, path_int(request, "customer_id"),
                                     phone=optional_str(data, "phone") or "", email=optional_str(data, "email") or "",
                                     region=services.settings.phone_region)
        body = {"customer": customer_dict(customer)}
    return web.json_response(body)


async def link(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "CustomerLink")
    async with request.app[SERVICES].db.transaction() as session:
        ticket = await link_ticket(session, actor, as_int(data.get("ticket_id"), "ticket_id"),
                                   path_int(request, "customer_id"))
        body = {"ticket_id": ticket.id, "customer_id": ticket.customer_id}
    return web.json_response(body)


async def import_csv(request: web.Request) -> web.Response:
    """``dry_run`` (the default) writes nothing; ``dry_run: false`` imports all or nothing."""
    actor = actor_of(request)
    data = await read_json(request, "CustomerImport")
    text = optional_str(data, "csv")
    if not text:
        raise InvalidInput("choose a CSV file", {"field": "csv"})
    dry_run = optional_bool({"dry_run": data.get("dry_run", True)}, "dry_run")
    services = request.app[SERVICES]
    region = services.settings.phone_region
    if dry_run:
        async with services.db.session() as session:
            plan = await plan_import(session, actor, text, region)
    else:
        async with services.db.transaction() as session:
            plan = await import_customers(session, actor, text, region)
    return web.json_response({"dry_run": dry_run, **plan.as_dict()})


def _document() -> None:
    body = {"type": "object"}
    errors = (400, 401, 403, 404, 409)
    cid = openapi_parts.path_id("customer_id")
    openapi.SCHEMAS.update({
        "CustomerMerge": {"type": "object", "required": ["other_id"],
                          "properties": {"other_id": {"type": "integer", "description": "merged into the path's customer"}}},
        "CustomerContact": {"type": "object", "properties": {"phone": {"type": "string"}, "email": {"type": "string"}}},
        "CustomerLink": {"type": "object", "required": ["ticket_id"], "properties": {"ticket_id": {"type": "integer"}}},
        "CustomerImport": {"type": "object", "required": ["csv"], "properties": {
            "csv": {"type": "string", "description": "header row naming the columns: " + ", ".join(COLUMNS)
                    + "; several phones, emails or tags in one cell separated by ';'"},
            "dry_run": {"type": "boolean", "default": True}}},
    })
    openapi.PATHS.update({
        "/api/v1/customers/{customer_id}/merge": {"post": openapi_parts.operation(
            "Merge another customer (other_id) into this one; undoable for 24 hours", body,
            body=openapi_parts.ref("CustomerMerge"), errors=errors, params=[cid])},
        "/api/v1/customers/{customer_id}/unmerge": {"post": openapi_parts.operation(
            "Undo the merge of this customer into another (within 24 hours)", body, errors=errors, params=[cid])},
        "/api/v1/customers/{customer_id}/contacts": {"post": openapi_parts.operation(
            "Add a phone number or email address to a customer", body, body=openapi_parts.ref("CustomerContact"),
            errors=errors, params=[cid])},
        "/api/v1/customers/{customer_id}/tickets": {"post": openapi_parts.operation(
            "Link a ticket to this customer", body, body=openapi_parts.ref("CustomerLink"), errors=errors,
            params=[cid])},
        "/api/v1/customers/import": {"post": openapi_parts.operation(
            "Import customers from CSV: a dry run unless dry_run is false (then all or nothing)", body,
            body=openapi_parts.ref("CustomerImport"), errors=(400, 401, 403))},
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/customers/import", import_csv)
    app.router.add_post("/api/v1/customers/{customer_id}/merge", merge)
    app.router.add_post("/api/v1/customers/{customer_id}/unmerge", unmerge)
    app.router.add_post("/api/v1/customers/{customer_id}/contacts", add_contacts)
    app.router.add_post("/api/v1/customers/{customer_id}/tickets", link)
    _document()
