"""The reply composer's API: templates by search (suggested first), articles to insert, the draft.

Handlers parse, call the email channel's reply service, and answer; what is suggested, what
matches and what is kept are decided in ``channels.replies``, ``knowledge.template_search``,
``knowledge.article_links`` and ``channels.reply_drafts``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_str, path_int, read_json
from agent_ui.base.keys import SERVICES
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.reply_drafts import DraftFields, draft_dict
from core.errors import Unavailable
from knowledge.article_links import articles_to_insert

QUERY_CHARS = 200


def _channel(request: web.Request) -> EmailChannel:
    channel = request.app.get(EMAIL_CHANNEL)
    if channel is None:
        raise Unavailable("the email channel is not running")
    return channel


def _query(request: web.Request) -> str:
    return request.query.get("q", "")[:QUERY_CHARS]


def _public_base(request: web.Request) -> str:
    """Where customers reach this server: the configured public URL, else the address asked."""
    return request.app[SERVICES].settings.web.base_url or str(request.url.origin())


async def template_choices(request: web.Request) -> web.Response:
    """GET ?q=words&fresh=1: every active template matching, suggested ones first."""
    actor = actor_of(request)
    fresh = request.query.get("fresh", "") in ("1", "true", "yes")
    async with request.app[SERVICES].db.session() as session:
        found = await _channel(request).replies.template_choices(
            session, actor, path_int(request, "ticket_id"), _query(request), fresh)
    return web.json_response({"templates": [c.as_dict() for c in found], "fresh": fresh})


async def articles(request: web.Request) -> web.Response:
    """GET ?q=words: articles to insert into the reply, with their public links."""
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        await services.desk.get(session, actor, path_int(request, "ticket_id"))
        found = await articles_to_insert(session, actor, _query(request), _public_base(request),
                                         request.query.get("lang") or None)
    return web.json_response({"articles": found})


async def draft_get(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        found = await _channel(request).replies.drafts.load(session, actor, path_int(request, "ticket_id"))
    return web.json_response({"draft": draft_dict(found)})


def _fields(data: dict[str, Any]) -> DraftFields:
    template = data.get("template_id")
    return DraftFields(
        to=optional_str(data, "to") or "",
        cc=optional_str(data, "cc") or "",
        bcc=optional_str(data, "bcc") or "",
        subject=optional_str(data, "subject") or "",
        body=optional_str(data, "body") or "",
        template_id=as_int(template, "template_id") if template not in (None, "") else None,
    )


async def draft_put(request: web.Request) -> web.Response:
    actor = actor_of(request)
    fields = _fields(await read_json(request, "ComposerDraft"))
    async with request.app[SERVICES].db.session() as session:
        saved = await _channel(request).replies.drafts.save(session, actor, path_int(request, "ticket_id"), fields)
        await session.commit()
        return web.json_response({"draft": draft_dict(saved)})


async def draft_delete(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        await _channel(request).replies.drafts.discard(session, actor, path_int(request, "ticket_id"))
        await session.commit()
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tickets/{ticket_id}/templates", template_choices)
    app.router.add_get("/api/v1/tickets/{ticket_id}/articles", articles)
    app.router.add_get("/api/v1/tickets/{ticket_id}/reply-draft", draft_get)
    app.router.add_put("/api/v1/tickets/{ticket_id}/reply-draft", draft_put)
    app.router.add_delete("/api/v1/tickets/{ticket_id}/reply-draft", draft_delete)


