"""``POST /tickets/{id}/handover``: send a ticket to another queue and/or a colleague from its page.

The handler reads the form and calls ``TicketDesk.hand_over`` (which checks who may do
what and puts each step on the timeline); the form itself is ``ticket_handover.html``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form
from agent_ui.base.keys import SERVICES


def known_queues(configured: Iterable[str], *current: str) -> list[str]:
    """The queues the form offers: the configured ones and the ticket's own."""
    return sorted({*configured, *(q for q in current if q)})


async def handover(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    form = await read_form(request, "TicketPatch")
    user = form.get("user_id", "").strip()
    services = request.app[SERVICES]
    async with services.db.session() as session:
        await services.desk.hand_over(session, actor, ticket_id, form.get("queue", ""),
                                      as_int(user, "user_id") if user else None, form.get("note", ""))
        await services.desk.commit_and_publish(session)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


def setup_routes(app: web.Application) -> None:
    """Before the ticket pages' ``/tickets/{id}/{action}``, which would take the path first."""
    app.router.add_post("/tickets/{ticket_id}/handover", handover)
