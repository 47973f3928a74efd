"""The public help centre: published articles, no sign-in, in the asker's language.
Editing them is staff work (``agent_ui.admin.knowledge_views``).

Handlers only parse, call ``knowledge`` services and present; the services check roles.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.inputs import path_int
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.base.rendering import render
from knowledge.articles import (
    article_dict,
    get_article,
    search_articles,
)

# -- public help pages ------------------------------------------------------------------

def help_language(request: web.Request) -> dict[str, str]:
    """``?lang=es`` picks the help centre's language (the page's words and the articles); without
    it the page speaks the person's or the browser's language."""
    asked = request.query.get("lang")
    if not asked:
        return {}
    picked = request.app[LOCALIZER].pick(asked[:16])  # zh, zh_CN and zh-CN are one language: the shipped tag
    return {"lang": picked, "help_lang": picked}


async def help_index(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:200]
    language = help_language(request)
    async with request.app[SERVICES].db.session() as session:
        articles = await search_articles(session, None, query, language.get("help_lang"))
    return render("knowledge/help.html", request, {"query": query, "articles": articles, **language})


async def help_article(request: web.Request) -> web.Response:
    async with request.app[SERVICES].db.session() as session:
        article = await get_article(session, None, path_int(request, "id"))
        return render("knowledge/help_article.html", request, {"article": article, **help_language(request)})


async def public_articles(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:200]
    async with request.app[SERVICES].db.session() as session:
        found = await search_articles(session, None, query, request.query.get("lang") or None)
        return web.json_response({"articles": [article_dict(a) for a in found]})


def setup_routes(app: web.Application) -> None:
    """The help pages: published articles only, no sign-in."""
    app.router.add_get("/help", help_index)
    app.router.add_get(r"/help/{id:\d+}", help_article)
    app.router.add_get("/api/v1/help/articles", public_articles)
