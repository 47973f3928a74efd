"""A ticket's custom fields on its page and in the API: read the values, refuse bad ones by field.

The page posts every field at once (``cf_<key>``); when a value is refused the ticket page
comes back with each message next to its field and what was typed still there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import path_int, read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.tickets.queue_filters import FIELD_PREFIX
from agent_ui.tickets.views import ticket_context
from routing.custom_fields import FieldErrors, set_field_values


async def fields_form(request: web.Request) -> web.StreamResponse:
    """POST /tickets/{id}/fields"""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    form = await read_form(request, "TicketFields")
    values: dict[str, Any] = {k.removeprefix(FIELD_PREFIX): v for k, v in form.items() if k.startswith(FIELD_PREFIX)}
    services = request.app[SERVICES]
    async with services.db.session() as session:
        try:
            await set_field_values(services.desk, session, actor, ticket_id, values)
            await services.desk.commit_and_publish(session)
        except FieldErrors as exc:
            await session.rollback()
            context = await ticket_context(session, request, actor, ticket_id)
            context["field_errors"] = exc.details.get("reasons", {})
            context["field_values"] = {**context["field_values"], **values}
            return render("ticket.html", request, context, status=400)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}#ticket-fields")


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/tickets/{ticket_id}/fields", fields_form)
