"""Saved views on the queue page and in the API: save the current filters and sort under a
name (for oneself, or shared by an admin), rename, delete. The query is checked by the
queue's own parser before it is kept, so a saved view always opens."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import optional_bool, optional_str, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.tickets.queue_filters import read_queue_view
from core.errors import InvalidInput
from routing.saved_views import delete_view, list_views, rename_view, save_view, view_dict


def _query(text: str) -> dict[str, str]:
    """A queue query string, as the queue reads it (``InvalidInput`` if it would not open)."""
    pairs = dict(parse_qsl(text.lstrip("?"), keep_blank_values=False))
    return {k: v for k, v in read_queue_view(pairs).query().items() if k != "page"}


async def save_form(request: web.Request) -> web.StreamResponse:
    """POST /queue/views: ``name``, ``query`` (the queue's query string), ``shared``."""
    actor = actor_of(request)
    form = await read_form(request, "SavedView")
    query = _query(form.get("query", ""))
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await save_view(session, actor, form.get("name", ""), query, form.get("shared") == "1", services.clock.now())
    raise web.HTTPSeeOther("/queue?" + urlencode(query))


async def rename_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "SavedView")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        view = await rename_view(session, actor, path_int(request, "view_id"), form.get("name", ""))
        query = dict(view.query or {})
    raise web.HTTPSeeOther("/queue?" + urlencode(query))


async def delete_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    await read_form(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await delete_view(session, actor, path_int(request, "view_id"))
    raise web.HTTPSeeOther("/queue")


async def views_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        views = await list_views(session, actor)
        return web.json_response({"views": [view_dict(v) for v in views]})


async def save_api(request: web.Request) -> web.Response:
    """``{"name", "query": {...queue filters...} or "status=open&...", "shared": bool}``"""
    actor = actor_of(request)
    data = await read_json(request, "SavedView")
    raw = data.get("query") or {}
    if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
        query = read_queue_view(raw).query()
    elif isinstance(raw, str):
        query = _query(raw)
    else:
        raise InvalidInput("query must be the queue's filters as text", {"field": "query"})
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        view = await save_view(session, actor, optional_str(data, "name") or "", query, optional_bool(data, "shared"),
                               services.clock.now())
        body = view_dict(view)
    return web.json_response(body, status=201)


async def rename_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "SavedView")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        view = await rename_view(session, actor, path_int(request, "view_id"), optional_str(data, "name") or "")
        body = view_dict(view)
    return web.json_response(body)


async def delete_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await delete_view(session, actor, path_int(request, "view_id"))
    return web.json_response({"deleted": True})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/queue/views", save_form)
    app.router.add_post("/queue/views/{view_id}/rename", rename_form)
    app.router.add_post("/queue/views/{view_id}/delete", delete_form)
    app.router.add_get("/api/v1/views", views_api)
    app.router.add_post("/api/v1/views", save_api)
    app.router.add_patch("/api/v1/views/{view_id}", rename_api)
    app.router.add_delete("/api/v1/views/{view_id}", delete_api)
