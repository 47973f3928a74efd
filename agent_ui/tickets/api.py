"""REST: ``/api/v1/tickets`` — the one queue for other systems (session+CSRF or API token)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.contact_masking import shown_entry
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_bool, optional_str, path_int, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.tickets.queue_filters import read_queue_view
from core.errors import InvalidInput
from routing import entry_dict, ticket_dict
from routing.custom_fields import field_values, field_values_by_ticket, set_field_values
from routing.merging import merge, split
from routing.tagging import add_tag, remove_tag
from routing.tags import tags_of

PATCHABLE = ("status", "priority", "category", "queue", "subject", "assignee_id", "fields")


def _priority(data: dict[str, Any]) -> str | int | None:
    """A priority by name (``high``) or number; anything else is refused here, naming the field."""
    value = data.get("priority")
    if value is None or isinstance(value, str):
        return value
    return as_int(value, "priority")


async def list_tickets(request: web.Request) -> web.Response:
    actor = actor_of(request)
    view = read_queue_view(request.query)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        tickets = await services.desk.list_tickets(session, actor, view.to_filter(actor))
        values = await field_values_by_ticket(session, [t.id for t in tickets])
        return web.json_response({"tickets": [{**ticket_dict(t), "fields": values.get(t.id, {})} for t in tickets]})


async def create_ticket(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "TicketDraft")
    customer_id = data.get("customer_id")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        accepted = await services.desk.open_ticket(
            session,
            actor,
            subject=optional_str(data, "subject") or "",
            body=optional_str(data, "body") or "",
            customer_id=as_int(customer_id, "customer_id") if customer_id is not None else None,
            priority=_priority(data),
            category=optional_str(data, "category"),
            queue=optional_str(data, "queue"),
            join=optional_bool(data, "join"),
        )
        await services.desk.commit_and_publish(session)
        body = {"ticket": ticket_dict(accepted.ticket), "created": accepted.created}
    return web.json_response(body, status=201 if accepted.created else 200)


async def get_ticket(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        ticket = await services.desk.get(session, actor, path_int(request, "ticket_id"))
        return web.json_response({"ticket": {**ticket_dict(ticket), "tags": await tags_of(session, ticket.id),
                                             "fields": await field_values(session, ticket.id)}})


async def patch_ticket(request: web.Request) -> web.Response:
    """Change status, assignee and fields together: all in one transaction, or nothing."""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    data = await read_json(request, "TicketPatch")
    unknown = sorted(set(data) - set(PATCHABLE))
    if unknown or not data:
        raise InvalidInput("send one or more of: " + ", ".join(PATCHABLE), {"unknown": unknown})
    services = request.app[SERVICES]
    desk = services.desk
    fields: dict[str, Any] = {k: optional_str(data, k) for k in ("category", "queue", "subject") if k in data}
    if "priority" in data:
        fields["priority"] = _priority(data)
    custom = data.get("fields")
    if "fields" in data and not isinstance(custom, dict):
        raise InvalidInput("fields must be an object of field keys and values", {"field": "fields"})
    async with services.db.session() as session:
        if isinstance(custom, dict):  # first: a refused value names its field before anything else is tried
            await set_field_values(desk, session, actor, ticket_id, custom)
        if "assignee_id" in data:
            assignee = data["assignee_id"]
            await desk.assign(session, actor, ticket_id, as_int(assignee, "assignee_id") if assignee is not None else None)
        if fields:
            await desk.update_fields(session, actor, ticket_id, fields)
        if "status" in data:
            status = data["status"]
            if not isinstance(status, str):
                raise InvalidInput("status must be a string", {"field": "status"})
            await desk.set_status(session, actor, ticket_id, status)
        ticket = await desk.get(session, actor, ticket_id)
        await desk.commit_and_publish(session)
        return web.json_response({"ticket": {**ticket_dict(ticket), "fields": await field_values(session, ticket_id)}})


async def add_note(request: web.Request) -> web.Response:
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    data = await read_json(request, "NoteDraft")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        entry = await services.desk.add_note(session, actor, ticket_id, optional_str(data, "text") or "")
        await services.desk.commit_and_publish(session)
        return web.json_response({"entry": entry_dict(entry)}, status=201)


async def add_ticket_tag(request: web.Request) -> web.Response:
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    data = await read_json(request, "TicketTagDraft")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        tags = await add_tag(services.desk, session, actor, ticket_id, optional_str(data, "tag") or "")
        await services.desk.commit_and_publish(session)
    return web.json_response({"tags": tags})


async def remove_ticket_tag(request: web.Request) -> web.Response:
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        tags = await remove_tag(services.desk, session, actor, ticket_id, request.match_info["tag"][:200])
        await services.desk.commit_and_publish(session)
    return web.json_response({"tags": tags})


async def timeline(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        entries = await services.desk.timeline(session, actor, path_int(request, "ticket_id"))
        return web.json_response({"entries": [shown_entry(request, entry_dict(e)) for e in entries]})


async def merge_ticket(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "TicketMerge")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        survivor = await merge(services.desk, session, actor, path_int(request, "ticket_id"), as_int(data.get("into_id"), "into_id"))
        await services.desk.commit_and_publish(session)
        return web.json_response({"ticket": ticket_dict(survivor)})


async def split_ticket(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "TicketSplit")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        fresh = await split(services.desk, session, actor, as_int(data.get("entry_id"), "entry_id"))
        await services.desk.commit_and_publish(session)
        return web.json_response({"ticket": ticket_dict(fresh)}, status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tickets", list_tickets)
    app.router.add_post("/api/v1/tickets", create_ticket)
    app.router.add_get("/api/v1/tickets/{ticket_id}", get_ticket)
    app.router.add_patch("/api/v1/tickets/{ticket_id}", patch_ticket)
    app.router.add_post("/api/v1/tickets/{ticket_id}/notes", add_note)
    app.router.add_get("/api/v1/tickets/{ticket_id}/timeline", timeline)
    app.router.add_post("/api/v1/tickets/{ticket_id}/tags", add_ticket_tag)
    app.router.add_delete("/api/v1/tickets/{ticket_id}/tags/{tag}", remove_ticket_tag)
    app.router.add_post("/api/v1/tickets/{ticket_id}/merge", merge_ticket)
    app.router.add_post("/api/v1/tickets/{ticket_id}/split", split_ticket)
