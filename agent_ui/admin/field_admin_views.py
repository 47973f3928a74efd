"""Custom ticket fields, defined by admins: a page and REST (``/api/v1/fields``).

- ``GET  /admin/fields``                       the fields, a form to define one, change or delete each
- ``GET  /api/v1/fields``                      every field (agents read them to fill tickets in)
- ``POST /api/v1/fields``                      define (``key``, ``name``, ``kind``, ``choices``, ``required``)
- ``PATCH/DELETE /api/v1/fields/{id}``         change (name, choices, required, position) or delete
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import InvalidInput
from core.records import Role
from routing.custom_fields import (
    FIELD_KINDS,
    FieldDraft,
    change_field,
    define_field,
    delete_field,
    field_dict,
    list_fields,
)


def _draft(data: dict[str, Any]) -> FieldDraft:
    choices = data.get("choices") or []
    if isinstance(choices, str):  # the page's textarea: one choice a line
        choices = choices.splitlines()
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise InvalidInput("choices must be a list of text", {"field": "choices"})
    text = {k: data.get(k) for k in ("key", "name", "kind")}
    for name, value in text.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{name} must be text", {"field": name})
    required = data.get("required") in (True, "1", "on", "true")
    position = as_int(data["position"], "position") if data.get("position") not in (None, "") else 0
    return FieldDraft(text["key"] or "", text["name"] or "", text["kind"] or "", tuple(choices), required, position)


async def _page(request: web.Request, error: InvalidInput | None = None, typed: dict[str, str] | None = None) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.ADMIN, Role.OPS)
    async with request.app[SERVICES].db.session() as session:
        fields = await list_fields(session)
    context = {"fields": fields, "kinds": FIELD_KINDS, "error": error, "typed": typed or {}}
    return render("desk/fields.html", request, context, status=400 if error else 200)


async def fields_page(request: web.Request) -> web.Response:
    return await _page(request)


async def define_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "CustomField")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await define_field(session, actor, _draft(form))
    except InvalidInput as exc:  # the form again, with what was typed and the reason
        return await _page(request, exc, form)
    raise web.HTTPSeeOther("/admin/fields")


async def change_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "CustomField")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await change_field(session, actor, path_int(request, "field_id"), _draft(form))
    except InvalidInput as exc:
        return await _page(request, exc)
    raise web.HTTPSeeOther("/admin/fields")


async def delete_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    await read_form(request)
    async with request.app[SERVICES].db.transaction() as session:
        await delete_field(session, actor, path_int(request, "field_id"))
    raise web.HTTPSeeOther("/admin/fields")


async def fields_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.AGENT, Role.OPS)
    async with request.app[SERVICES].db.session() as session:
        fields = await list_fields(session)
        return web.json_response({"fields": [field_dict(f) for f in fields]})


async def define_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "CustomField")
    async with request.app[SERVICES].db.transaction() as session:
        field = await define_field(session, actor, _draft(data))
        body = field_dict(field)
    return web.json_response(body, status=201)


async def change_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "CustomField")
    async with request.app[SERVICES].db.transaction() as session:
        field = await change_field(session, actor, path_int(request, "field_id"), _draft({**data, "key": "", "kind": ""}))
        body = field_dict(field)
    return web.json_response(body)


async def delete_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.transaction() as session:
        await delete_field(session, actor, path_int(request, "field_id"))
    return web.json_response({"deleted": True})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/fields", fields_page)
    app.router.add_post("/admin/fields", define_form)
    app.router.add_post("/admin/fields/{field_id}", change_form)
    app.router.add_post("/admin/fields/{field_id}/delete", delete_form)
    app.router.add_get("/api/v1/fields", fields_api)
    app.router.add_post("/api/v1/fields", define_api)
    app.router.add_patch("/api/v1/fields/{field_id}", change_api)
    app.router.add_delete("/api/v1/fields/{field_id}", delete_api)
