"""Search: the top bar's box (``/search``) and ``GET /api/v1/search`` (``routing.search``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_ui.base.contact_masking import shown_hit
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.tickets.queue_filters import CHANNEL_CHOICES, STATUS_CHOICES, read_queue_view
from core.auth import Actor
from core.errors import InvalidInput
from core.users import list_users
from knowledge.articles import search_articles
from routing import TicketFilter
from routing.search import SearchPage, hit_dict

KINDS = ("tickets", "customers", "articles")


def _date(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("not a date (YYYY-MM-DD)", {"field": field, "value": value[:40]}) from None


def read_filter(request: web.Request, actor: Actor) -> TicketFilter:
    """The queue's filters (every status unless one is asked for) plus a creation date range."""
    query = request.query
    flt = read_queue_view({**query, "status": query.get("status") or "all"}).to_filter(actor)
    flt.since, flt.until = _date(query.get("from", ""), "from"), _date(query.get("to", ""), "to")
    return flt


def _limit(request: web.Request) -> int:
    return as_int(request.query["limit"], "limit") if request.query.get("limit") else 20


async def api_search(request: web.Request) -> web.Response:
    actor = actor_of(request)
    text = request.query.get("q", "")
    kind = request.query.get("type", "tickets")
    if kind not in KINDS:
        raise InvalidInput("unknown search type", {"field": "type", "allowed": list(KINDS)})
    services = request.app[SERVICES]
    cursor = request.query.get("cursor") or None
    async with services.db.session() as session:
        if kind == "articles":
            found = await search_articles(session, actor, text[:200], request.query.get("lang") or None,
                                          limit=max(1, min(_limit(request), 50)))
            return web.json_response({"type": kind, "query": text, "next_cursor": None, "results": [
                {"kind": "article", "id": a.id, "title": a.title, "language": a.language,
                 "published": a.published} for a in found]})
        if kind == "customers":
            page = await services.search.customers(session, actor, text, cursor, _limit(request))
        else:
            page = await services.search.tickets(session, actor, text, read_filter(request, actor), cursor,
                                                 _limit(request))
    return web.json_response({"type": kind, "query": text, "next_cursor": page.next_cursor,
                              "results": [shown_hit(request, hit_dict(h)) for h in page.hits]})


async def search_page(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    text = request.query.get("q", "")
    services = request.app[SERVICES]
    flt = read_filter(request, actor)
    empty = SearchPage(text, [], None)
    async with services.db.session() as session:
        tickets = await services.search.tickets(session, actor, text, flt, request.query.get("cursor") or None)
        first_page = not request.query.get("cursor")
        customers = await services.search.customers(session, actor, text, limit=8) if first_page else empty
        articles = await search_articles(session, actor, text[:200], limit=5) if first_page and text.strip() else []
        users = await list_users(session, actor)
    filters = {k: v for k, v in request.query.items() if k in ("status", "queue", "assignee", "channel", "from", "to")}
    context: dict[str, Any] = {
        "q": text, "tickets": tickets, "customers": customers, "articles": articles, "filters": filters,
        "statuses": STATUS_CHOICES, "channels": CHANNEL_CHOICES, "users": users,
        "queues": sorted(set(services.settings.routing.queues.values())),
        "next_query": {**filters, "q": text, "cursor": tickets.next_cursor or ""},
    }
    return render("search/search.html", request, context)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/search", search_page)
    app.router.add_get("/api/v1/search", api_search)
