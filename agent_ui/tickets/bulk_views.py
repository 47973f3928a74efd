"""Bulk edits: the queue's selected rows, or ``POST /api/v1/tickets/bulk``; one request, each
ticket changed on its own through the desk, each failure reported with its ticket."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import form_of, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.tickets.queue_filters import read_queue_view
from agent_ui.tickets.views import queue_context
from routing.bulk import bulk_apply, read_ticket_ids
from routing.ticket_actions import read_actions


async def bulk_form(request: web.Request) -> web.StreamResponse:
    """POST /queue/bulk: the queue page again, with each ticket's outcome above the list."""
    actor = actor_of(request)
    form = await form_of(request)
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "ticket_ids"}
    ids = read_ticket_ids([v for v in form.getall("ticket_ids", []) if isinstance(v, str)])
    actions = read_actions(fields)
    read_queue_view(request.query)  # the list to show afterwards: refused here if malformed
    services = request.app[SERVICES]
    outcomes = await bulk_apply(services.desk, services.db.session, actor, ids, actions)
    context = await queue_context(request)
    context["bulk_outcomes"] = outcomes
    return render("queue.html", request, context)


async def bulk_api(request: web.Request) -> web.Response:
    """``{"ticket_ids": [...], "status", "queue", "assignee", "add_tags", "remove_tags"}`` →
    ``{"results": [{ticket_id, ok, changes, error}], "changed": n, "failed": n}``."""
    actor = actor_of(request)
    data = await read_json(request, "TicketBulk")
    ids = read_ticket_ids(data.get("ticket_ids"))
    actions = read_actions({k: v for k, v in data.items() if k != "ticket_ids"})
    services = request.app[SERVICES]
    outcomes = await bulk_apply(services.desk, services.db.session, actor, ids, actions)
    return web.json_response({"results": [o.as_dict() for o in outcomes],
                              "changed": sum(o.ok for o in outcomes), "failed": sum(not o.ok for o in outcomes)})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/queue/bulk", bulk_form)
    app.router.add_post("/api/v1/tickets/bulk", bulk_api)
