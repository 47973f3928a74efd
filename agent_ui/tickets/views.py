"""The ticket pages: the one queue and the ticket page, with the actions agents take.

Handlers read the form, build the ``Actor``, call ``TicketDesk`` (which checks roles
and writes the audit log), then redirect back; the pages only present.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render, request_language
from agent_ui.tickets.desk_context import queue_desk_context, ticket_desk_context
from agent_ui.tickets.handover_views import known_queues
from agent_ui.tickets.queue_filters import CHANNEL_CHOICES, STATUS_CHOICES, read_queue_view
from core.auth import Actor
from core.errors import InvalidInput
from core.records import Category, Priority, Role, TicketStatus, ticket_id_of_number
from core.users import list_users
from routing import TicketFilter
from routing.complaints import category_names
from routing.merging import SPLITTABLE, merge, split
from routing.tagging import add_tag, remove_tag
from routing.tags import tags_by_ticket, tags_of


async def queue_context(request: web.Request) -> dict[str, Any]:
    actor = actor_of(request)
    view = read_queue_view(request.query)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        tickets = await services.desk.list_tickets(session, actor, view.to_filter(actor))
        tags = await tags_by_ticket(session, [t.id for t in tickets])
        users = await list_users(session, actor)
        desk_tools = await queue_desk_context(session, actor)
    queues = sorted({*services.settings.routing.queues.values(), *(t.queue for t in tickets), *([view.queue] if view.queue else [])})
    return {
        "view": view,
        "tickets": tickets,
        "tags": tags,
        "users": users,
        "queues": queues,
        "statuses": STATUS_CHOICES,
        "channels": CHANNEL_CHOICES,
        "priorities": [p.name.lower() for p in Priority],
        "categories": [c.value for c in Category],
        "now": services.clock.now(),
        "more": len(tickets) == view.limit,
        **desk_tools,
    }


async def queue_page(request: web.Request) -> web.StreamResponse:
    return render("queue.html", request, await queue_context(request))


async def queue_table(request: web.Request) -> web.StreamResponse:
    """The queue's rows alone, fetched by the page when a live event says something changed."""
    return render("queue_table.html", request, await queue_context(request))


async def ticket_context(session: AsyncSession, request: web.Request, actor: Actor, ticket_id: int) -> dict[str, Any]:
    desk = request.app[SERVICES].desk
    ticket = await desk.get(session, actor, ticket_id)
    timeline = await desk.timeline(session, actor, ticket_id)
    users = await list_users(session, actor, include_inactive=True)
    other_tickets = []
    history = []
    if ticket.customer_id is not None:
        history = await desk.customer_history(session, ticket.customer_id, limit=15)
        flt = TicketFilter(customer_id=ticket.customer_id, status="all", limit=20)
        other_tickets = [t for t in await desk.list_tickets(session, actor, flt) if t.id != ticket.id]
    return {
        "ticket": ticket,
        "tags": await tags_of(session, ticket.id),
        "timeline": timeline,
        "customer": ticket.customer,
        "other_tickets": other_tickets,
        "history": history,
        "users": [u for u in users if u.active and (Role.AGENT.value in (u.roles or []) or u.id == ticket.assignee_id)],
        "user_names": {u.id: u.display_name for u in users},
        # Who may change the assignee here: what ``TicketDesk.assign`` allows (it checks again).
        "splittable": SPLITTABLE,
        "queues": known_queues(request.app[SERVICES].settings.routing.queues.values(), ticket.queue),
        "can_assign": actor.has(Role.SUPERVISOR)
        or (actor.has(Role.AGENT) and ticket.assignee_id in (None, actor.user_id)),
        "statuses": [s.value for s in TicketStatus],
        "priorities": [p.name.lower() for p in Priority],
        "categories": [c.value for c in Category],
        "complaint_names": await category_names(session, request_language(request)),
        **await ticket_desk_context(session, actor, ticket.id),
    }


async def _render_ticket(request: web.Request, template: str) -> web.StreamResponse:
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    async with request.app[SERVICES].db.session() as session:
        context = await ticket_context(session, request, actor, ticket_id)
    return render(template, request, context)


async def ticket_page(request: web.Request) -> web.StreamResponse:
    return await _render_ticket(request, "ticket.html")


async def ticket_timeline(request: web.Request) -> web.StreamResponse:
    """The timeline alone, refreshed live on the ticket page."""
    return await _render_ticket(request, "timeline.html")


async def ticket_action(request: web.Request) -> web.StreamResponse:
    """POST /tickets/{id}/{action}: take, assign, status, priority, category, tag, untag, note, merge, split."""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    action = request.match_info["action"]
    form = await read_form(request, "NoteDraft" if action == "note" else "TicketPatch")
    services = request.app[SERVICES]
    desk = services.desk
    async with services.db.session() as session:
        if action == "take":
            await desk.assign(session, actor, ticket_id, actor.user_id)
        elif action == "assign":
            user_id = as_int(form["user_id"], "user_id") if form.get("user_id") else None
            await desk.assign(session, actor, ticket_id, user_id)
        elif action == "status":
            await desk.set_status(session, actor, ticket_id, form.get("status", ""))
        elif action == "priority":
            await desk.update_fields(session, actor, ticket_id, {"priority": form.get("priority", "")})
        elif action == "category":
            await desk.update_fields(session, actor, ticket_id, {"category": form.get("category", "")})
        elif action == "tag":
            await add_tag(desk, session, actor, ticket_id, form.get("tag", ""))
        elif action == "untag":
            await remove_tag(desk, session, actor, ticket_id, form.get("tag", ""))
        elif action == "note":
            await desk.add_note(session, actor, ticket_id, form.get("text", ""))
        elif action == "merge":
            ticket_id = (await merge(desk, session, actor, ticket_id, _ticket_written(form.get("into", "")))).id
        elif action == "split":
            ticket_id = (await split(desk, session, actor, as_int(form.get("entry_id", ""), "entry_id"))).id
        else:
            raise web.HTTPNotFound()
        await desk.commit_and_publish(session)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


def _ticket_written(text: str) -> int:
    """A ticket as people write it (``#1234`` or ``1234``, the number on its page) → its id."""
    ticket_id = ticket_id_of_number(as_int(text.strip().lstrip("#").strip(), "into"))
    if ticket_id is None:
        raise InvalidInput("no such ticket number", {"field": "into"})
    return ticket_id


async def new_ticket(request: web.Request) -> web.StreamResponse:
    """POST /tickets: open a ticket from the console (routed as a "web" contact)."""
    actor = actor_of(request)
    form = await read_form(request, "TicketDraft")
    customer = form.get("customer_id", "").strip()
    services = request.app[SERVICES]
    async with services.db.session() as session:
        accepted = await services.desk.open_ticket(
            session,
            actor,
            subject=form.get("subject", ""),
            body=form.get("body", ""),
            customer_id=as_int(customer, "customer_id") if customer else None,
            priority=form.get("priority") or None,
            category=form.get("category") or None,
        )
        await services.desk.commit_and_publish(session)
    raise web.HTTPSeeOther(f"/tickets/{accepted.ticket.id}")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/queue", queue_page)
    app.router.add_get("/queue/table", queue_table)
    app.router.add_post("/tickets", new_ticket)
    app.router.add_get("/tickets/{ticket_id}", ticket_page)
    app.router.add_get("/tickets/{ticket_id}/timeline", ticket_timeline)
    app.router.add_post("/tickets/{ticket_id}/{action}", ticket_action)

