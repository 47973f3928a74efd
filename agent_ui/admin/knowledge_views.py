"""Knowledge for staff: the ops page (templates and articles, import and export) and the REST
API for templates and articles (staff read; ops edit). The public help centre is
``agent_ui.help``.

Handlers only parse, call ``knowledge`` services and present; the services check roles.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import form_of, path_int, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.clock import as_utc
from core.errors import InvalidInput
from core.records import Role
from knowledge.articles import (
    article_dict,
    create_article,
    delete_article,
    get_article,
    search_articles,
    update_article,
)
from knowledge.drafts import parse_article, parse_template
from knowledge.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
    template_dict,
    template_usage,
    update_template,
)
from knowledge.transfer import ImportSummary, export_yaml, import_yaml

# -- ops page ----------------------------------------------------------------------------

async def ops_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    async with request.app[SERVICES].db.session() as session:
        templates = [template_dict(t) for t in await list_templates(session, actor)]
        articles = [article_dict(a) for a in await search_articles(session, actor, limit=1000)]
    return render("knowledge/ops.html", request, {"templates": templates, "articles": articles,
                                   "imported": request.query.get("imported", "")})


async def ops_import(request: web.Request) -> web.StreamResponse:
    """The upload form: import, then back to the page with what changed."""
    counts = dataclasses.asdict(await _import_upload(request))
    summary = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items())
    raise web.HTTPSeeOther("/ops/knowledge?" + urlencode({"imported": summary}))


# -- REST: templates ----------------------------------------------------------------------

async def templates_list(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        found = await list_templates(session, actor, active_only=request.query.get("active") == "true")
        return web.json_response({"templates": [template_dict(t) for t in found]})


async def template_read(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        return web.json_response({"template": template_dict(await get_template(session, actor, path_int(request, "id")))})


async def template_create(request: web.Request) -> web.Response:
    actor = actor_of(request)
    draft = parse_template(await read_json(request, "TemplateDraft"))
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        body = {"template": template_dict(await create_template(session, actor, draft, services.renderer))}
    services.templates.invalidate()
    return web.json_response(body, status=201)


async def template_update(request: web.Request) -> web.Response:
    actor = actor_of(request)
    draft = parse_template(await read_json(request, "TemplateDraft"))
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        body = {"template": template_dict(await update_template(session, actor, path_int(request, "id"), draft, services.renderer))}
    services.templates.invalidate()
    return web.json_response(body)


async def template_delete(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await delete_template(session, actor, path_int(request, "id"))
    services.templates.invalidate()
    return web.Response(status=204)


async def template_suggestions(request: web.Request) -> web.Response:
    """Try the matcher on a sample mail: ``{"subject", "body", "language"}``."""
    actor_of(request)
    data = await read_json(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        found = await services.templates.suggest(
            session, str(data.get("subject", "")), str(data.get("body", "")), data.get("language") or None
        )
    return web.json_response({"suggestions": [
        {"template_id": s.template_id, "name": s.name, "score": s.score, "matched": list(s.matched)}
        for s in found
    ]})


async def templates_usage(request: web.Request) -> web.Response:
    actor = actor_of(request)
    since = request.query.get("since")
    try:
        when = as_utc(datetime.fromisoformat(since)) if since else None
    except ValueError:
        raise InvalidInput("since must be an ISO date or date-time", {"since": since}) from None
    async with request.app[SERVICES].db.session() as session:
        return web.json_response({"usage": await template_usage(session, actor, when)})


async def templates_export(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        text = await export_yaml(session, actor)
    return web.Response(text=text, content_type="application/yaml", headers={
        "Content-Disposition": 'attachment; filename="frontdesk-knowledge.yaml"'})


async def _import_upload(request: web.Request) -> ImportSummary:
    """The YAML file as the request body, or as the ``file`` field of a form upload."""
    actor = actor_of(request)
    if request.content_type.startswith("multipart/"):
        form = await form_of(request)
        upload = form.get("file")
        text: str | bytes = upload.file.read() if isinstance(upload, web.FileField) else str(upload or "")
    else:
        text = await request.read()
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        summary = await import_yaml(session, actor, text, services.renderer)
    services.templates.invalidate()
    return summary


async def templates_import(request: web.Request) -> web.Response:
    return web.json_response({"imported": dataclasses.asdict(await _import_upload(request))})


# -- REST: articles -----------------------------------------------------------------------

async def articles_list(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        found = await search_articles(session, actor, request.query.get("q", "")[:200],
                                      request.query.get("lang") or None, limit=200)
        return web.json_response({"articles": [article_dict(a) for a in found]})


async def article_read(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        return web.json_response({"article": article_dict(await get_article(session, actor, path_int(request, "id")))})


async def article_create(request: web.Request) -> web.Response:
    actor = actor_of(request)
    draft = parse_article(await read_json(request, "ArticleDraft"))
    async with request.app[SERVICES].db.transaction() as session:
        body = {"article": article_dict(await create_article(session, actor, draft))}
    return web.json_response(body, status=201)


async def article_update(request: web.Request) -> web.Response:
    actor = actor_of(request)
    draft = parse_article(await read_json(request, "ArticleDraft"))
    async with request.app[SERVICES].db.transaction() as session:
        body = {"article": article_dict(await update_article(session, actor, path_int(request, "id"), draft))}
    return web.json_response(body)


async def article_delete(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.transaction() as session:
        await delete_article(session, actor, path_int(request, "id"))
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    """The ops page and the staff REST API."""
    app.router.add_get("/ops/knowledge", ops_page)
    app.router.add_post("/ops/knowledge/import", ops_import)
    app.router.add_get("/api/v1/templates", templates_list)
    app.router.add_post("/api/v1/templates", template_create)
    app.router.add_get("/api/v1/templates/export", templates_export)
    app.router.add_get("/api/v1/templates/usage", templates_usage)
    app.router.add_post("/api/v1/templates/import", templates_import)
    app.router.add_post("/api/v1/templates/suggestions", template_suggestions)
    app.router.add_get(r"/api/v1/templates/{id:\d+}", template_read)
    app.router.add_put(r"/api/v1/templates/{id:\d+}", template_update)
    app.router.add_delete(r"/api/v1/templates/{id:\d+}", template_delete)
    app.router.add_get("/api/v1/articles", articles_list)
    app.router.add_post("/api/v1/articles", article_create)
    app.router.add_get(r"/api/v1/articles/{id:\d+}", article_read)
    app.router.add_put(r"/api/v1/articles/{id:\d+}", article_update)
    app.router.add_delete(r"/api/v1/articles/{id:\d+}", article_delete)
