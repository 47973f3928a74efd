"""Macros on a ticket: preview what one would change, then apply it (page and API).

Applying never sends anything: when the macro carries a reply template, the ticket page opens
with ``?reply_template=<id>`` and its script fills the reply composer with the rendered text
for the agent to read and send.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from routing import macros, ticket_dict
from routing.macros import MacroOutcome


def _outcome(outcome: MacroOutcome) -> dict[str, Any]:
    return {"macro_id": outcome.macro_id, "ticket_id": outcome.ticket_id, "changes": outcome.changes,
            "template_id": outcome.template_id}


async def preview_page(request: web.Request) -> web.StreamResponse:
    """GET /tickets/{id}/macro-preview?macro_id=N: the changes, and a button to apply them.
    With ``fragment=1`` only the preview itself (the ticket page shows it in place)."""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    macro_id = as_int(request.query.get("macro_id", ""), "macro_id")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        outcome = await macros.preview(services.desk, session, actor, macro_id, ticket_id)
        ticket = await services.desk.get(session, actor, ticket_id)
        macro = next(m for m in await macros.list_macros(session, actor) if m.id == macro_id)
    context = {"preview": outcome, "ticket": ticket, "macro": macro}
    template = "ticket/_macro_preview.html" if request.query.get("fragment") == "1" else "ticket/macro_preview.html"
    return render(template, request, context)


async def apply_form(request: web.Request) -> web.StreamResponse:
    """POST /tickets/{id}/macros/{macro_id}/apply"""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    macro_id = path_int(request, "macro_id")
    await read_form(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        outcome = await macros.apply(services.desk, session, actor, macro_id, ticket_id)
        await services.desk.commit_and_publish(session)
    if outcome.template_id is not None:
        raise web.HTTPSeeOther(f"/tickets/{ticket_id}?reply_template={outcome.template_id}#reply-composer")
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


async def preview_api(request: web.Request) -> web.Response:
    """POST /api/v1/tickets/{id}/macros/{macro_id}/preview: what applying would change (nothing written)."""
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        outcome = await macros.preview(services.desk, session, actor, path_int(request, "macro_id"),
                                       path_int(request, "ticket_id"))
    return web.json_response(_outcome(outcome))


async def apply_api(request: web.Request) -> web.Response:
    """POST /api/v1/tickets/{id}/macros/{macro_id}/apply: the changes made, and the ticket after."""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        outcome = await macros.apply(services.desk, session, actor, path_int(request, "macro_id"), ticket_id)
        await services.desk.commit_and_publish(session)
        ticket = await services.desk.get(session, actor, ticket_id)
        return web.json_response({**_outcome(outcome), "ticket": ticket_dict(ticket)})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/tickets/{ticket_id}/macro-preview", preview_page)
    app.router.add_post("/tickets/{ticket_id}/macros/{macro_id}/apply", apply_form)
    app.router.add_post("/api/v1/tickets/{ticket_id}/macros/{macro_id}/preview", preview_api)
    app.router.add_post("/api/v1/tickets/{ticket_id}/macros/{macro_id}/apply", apply_api)
