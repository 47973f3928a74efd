"""Macros: a page where admins keep the shared ones and anyone keeps personal ones, and REST.

- ``GET  /macros``                      the macros one may use; forms to make, change, delete
- ``POST /macros``, ``/macros/{id}``, ``/macros/{id}/delete``   the page's forms
- ``GET/POST /api/v1/macros``           list / make (``name``, ``status``, ``queue``, ``assignee``,
                                        ``add_tags``, ``remove_tags``, ``template_id``, ``shared``)
- ``PATCH/DELETE /api/v1/macros/{id}``  change / delete
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import InvalidInput
from core.records import Role, TicketStatus
from core.users import list_users
from knowledge.templates import list_templates
from routing.macros import (
    change_macro,
    create_macro,
    delete_macro,
    list_macros,
    macro_dict,
    read_macro,
)


async def _page(request: web.Request, error: InvalidInput | None = None, typed: dict[str, str] | None = None) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.AGENT, Role.OPS)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        macros = await list_macros(session, actor)
        users = [u for u in await list_users(session, actor) if Role.AGENT.value in (u.roles or [])]
        templates = await list_templates(session, actor, active_only=True)
    context = {
        "macros": [macro_dict(m) for m in macros], "users": users, "templates": templates,
        "statuses": [s.value for s in TicketStatus], "error": error, "typed": typed or {},
        "may_share": actor.has(Role.ADMIN) or actor.has(Role.OPS),
        "template_names": {t.id: t.name for t in templates}, "user_names": {u.id: u.display_name for u in users},
    }
    return render("desk/macros.html", request, context, status=400 if error else 200)


async def macros_page(request: web.Request) -> web.Response:
    return await _page(request)


async def create_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "Macro")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await create_macro(session, actor, read_macro(form), services.clock.now())
    except InvalidInput as exc:
        return await _page(request, exc, form)
    raise web.HTTPSeeOther("/macros")


async def change_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "Macro")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await change_macro(session, actor, path_int(request, "macro_id"), read_macro(form), services.clock.now())
    except InvalidInput as exc:
        return await _page(request, exc)
    raise web.HTTPSeeOther("/macros")


async def delete_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    await read_form(request)
    async with request.app[SERVICES].db.transaction() as session:
        await delete_macro(session, actor, path_int(request, "macro_id"))
    raise web.HTTPSeeOther("/macros")


async def macros_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        macros = await list_macros(session, actor)
        return web.json_response({"macros": [macro_dict(m) for m in macros]})


def _body(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "shared": data.get("shared") is True}


async def create_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "Macro")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        macro = await create_macro(session, actor, read_macro(_body(data)), services.clock.now())
        body = macro_dict(macro)
    return web.json_response(body, status=201)


async def change_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "Macro")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        macro = await change_macro(session, actor, path_int(request, "macro_id"), read_macro(_body(data)),
                                   services.clock.now())
        body = macro_dict(macro)
    return web.json_response(body)


async def delete_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.transaction() as session:
        await delete_macro(session, actor, path_int(request, "macro_id"))
    return web.json_response({"deleted": True})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/macros", macros_page)
    app.router.add_post("/macros", create_form)
    app.router.add_post("/macros/{macro_id}", change_form)
    app.router.add_post("/macros/{macro_id}/delete", delete_form)
    app.router.add_get("/api/v1/macros", macros_api)
    app.router.add_post("/api/v1/macros", create_api)
    app.router.add_patch("/api/v1/macros/{macro_id}", change_api)
    app.router.add_delete("/api/v1/macros/{macro_id}", delete_api)
