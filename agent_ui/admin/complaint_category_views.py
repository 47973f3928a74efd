"""The complaint categories admins keep (``routing.complaints``): a page to add, rename and
(de)activate them, with a name in each language; the list as JSON for the console's wrap-up form.

- ``GET  /admin/complaint-categories``     the categories and a form for each (admins)
- ``POST /admin/complaint-categories``     add one, or save one by its key (admins)
- ``GET  /api/v1/complaint-categories``    the active ones, named in the caller's language (staff)
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render, request_language
from core.errors import InvalidInput
from core.records import Role
from routing.complaints import LANGUAGES, display_name, list_categories, save_category


async def _page(request: web.Request, error: InvalidInput | None = None, typed: dict[str, str] | None = None) -> web.Response:
    actor_of(request).require(Role.ADMIN)
    async with request.app[SERVICES].db.session() as session:
        categories = await list_categories(session)
    context = {"categories": categories, "name_languages": LANGUAGES, "error": error, "typed": typed or {}}
    return render("desk/complaint_categories.html", request, context, status=400 if error else 200)


async def categories_page(request: web.Request) -> web.Response:
    return await _page(request)


async def save_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    actor.require(Role.ADMIN)
    form = await read_form(request)
    names = {language: form.get(f"name_{language}", "") for language in LANGUAGES}
    try:
        async with request.app[SERVICES].db.transaction() as session:
            await save_category(session, actor, form.get("key", ""), names, active=form.get("active") in ("1", "on", "true"))
    except InvalidInput as exc:  # the page again, with what was typed and the reason
        return await _page(request, exc, form)
    raise web.HTTPSeeOther("/admin/complaint-categories")


async def categories_api(request: web.Request) -> web.Response:
    actor_of(request).require(Role.AGENT, Role.SUPERVISOR, Role.OPS)
    language = request_language(request)
    async with request.app[SERVICES].db.session() as session:
        categories = await list_categories(session, active_only=True)
        body = {"categories": [{"key": c.key, "name": display_name(c, c.key, language), "names": dict(c.names or {})}
                               for c in categories]}
    return web.json_response(body)


def _document() -> None:
    item = {"type": "object", "properties": {"key": {"type": "string"}, "name": {"type": "string"},
                                             "names": {"type": "object", "additionalProperties": {"type": "string"}}}}
    openapi.PATHS["/api/v1/complaint-categories"] = {"get": openapi_parts.operation(
        "The active complaint categories, named in the caller's language (the wrap-up form's choices)",
        {"type": "object", "properties": {"categories": {"type": "array", "items": item}}})}


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/complaint-categories", categories_page)
    app.router.add_post("/admin/complaint-categories", save_form)
    app.router.add_get("/api/v1/complaint-categories", categories_api)
    _document()
