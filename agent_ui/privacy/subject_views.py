"""Subject access and erasure, for admins: the customer's privacy page (export button, erase
form with its typed confirmation) and their REST twins.

- ``GET  /customers/{customer_id}/privacy``            the page
- ``POST /customers/{customer_id}/erase``              the form (``confirmation``)
- ``GET  /api/v1/customers/{customer_id}/export``      the zip archive (the page links here)
- ``POST /api/v1/customers/{customer_id}/erase``       JSON ``{"confirmation": "<name>"}``
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import optional_str, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import Conflict, InvalidInput
from core.records import Role
from privacy import erase_customer, export_customer, find_customer


async def export_archive(request: web.Request) -> web.Response:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        data = await export_customer(session, actor, customer_id, services.clock.now())
    stamp = services.clock.now().strftime("%Y%m%d")
    return web.Response(body=data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="customer-{customer_id}-{stamp}.zip"',
        "Cache-Control": "no-store"})


async def erase_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    data = await read_json(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        result = await erase_customer(session, actor, customer_id, optional_str(data, "confirmation") or "",
                                      services.clock.now())
    return web.json_response({"erasure": result.as_dict()})


async def _page(request: web.Request, customer_id: int, error: Exception | None = None,
                status: int = 200) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.ADMIN)
    async with request.app[SERVICES].db.session() as session:
        customer = await find_customer(session, customer_id)
    context: dict[str, Any] = {"customer": customer, "error": error}
    return render("privacy/customer.html", request, context, status=status)


async def privacy_page(request: web.Request) -> web.Response:
    return await _page(request, path_int(request, "customer_id"))


async def erase_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    form = await read_form(request)
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await erase_customer(session, actor, customer_id, form.get("confirmation", ""), services.clock.now())
    except (InvalidInput, Conflict) as exc:
        return await _page(request, customer_id, exc, exc.status)
    raise web.HTTPSeeOther(f"/customers/{customer_id}/privacy")


def _document() -> None:
    cid = openapi_parts.path_id("customer_id")
    errors = (400, 401, 403, 404, 409)
    openapi.SCHEMAS.update({
        "CustomerErase": {"type": "object", "required": ["confirmation"], "properties": {
            "confirmation": {"type": "string", "description": "the customer's name as stored (their id if nameless)"}}},
        "Erasure": openapi_parts.obj("erasure", {"type": "object", "properties": {
            "customer_id": {"type": "integer"}, "erased_at": openapi_parts.TIME,
            "kept": {"type": "object", "description": "rows kept, wiped, per table"},
            "deleted": {"type": "object", "description": "rows deleted per table"}}}),
    })
    openapi.PATHS.update({
        "/api/v1/customers/{customer_id}/export": {"get": {
            **openapi_parts.operation("Everything held about the customer as one zip archive (admin; audited)",
                                      {"type": "object"}, errors=(401, 403, 404), params=[cid]),
            "responses": {
                "200": {"description": "manifest.json, customer.json, tables/<table>.json and files/",
                        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                **{str(code): {"description": "error", **openapi_parts.as_json(openapi_parts.ERROR)}
                   for code in (401, 403, 404)}}}},
        "/api/v1/customers/{customer_id}/erase": {"post": openapi_parts.operation(
            "Anonymise the customer everywhere, keeping counts (admin; audited; confirmation must match)",
            openapi_parts.ref("Erasure"), body=openapi_parts.ref("CustomerErase"), errors=errors, params=[cid])},
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get(r"/customers/{customer_id:\d+}/privacy", privacy_page)
    app.router.add_post(r"/customers/{customer_id:\d+}/erase", erase_form)
    app.router.add_get("/api/v1/customers/{customer_id}/export", export_archive)
    app.router.add_post("/api/v1/customers/{customer_id}/erase", erase_api)
    _document()
