"""Notes each successful GET of a single customer or ticket (page or API) in the view log.

Hooked on ``on_response_prepare``, so the views that render customers and tickets need not know
about it: the route's declared path says what was looked at. Only an in-memory append happens
here; ``privacy.view_log.ViewLog`` writes in batches.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import signed_in
from privacy import VIEW_LOG

# Route as declared → (what the id in it names, which id, page or API).
WATCHED: dict[str, tuple[str, str, str]] = {
    "/customers/{customer_id}": ("customer", "customer_id", "page"),
    "/tickets/{ticket_id}": ("ticket", "ticket_id", "page"),
    "/api/v1/customers/{customer_id}": ("customer", "customer_id", "api"),
    "/api/v1/tickets/{ticket_id}": ("ticket", "ticket_id", "api"),
    "/api/v1/tickets/{ticket_id}/timeline": ("ticket", "ticket_id", "api"),
}
MAX_ID = 2**31 - 1


async def note_view(request: web.Request, response: web.StreamResponse) -> None:
    if request.method != "GET" or response.status != 200:
        return
    route = request.match_info.route.resource
    watched = WATCHED.get(route.canonical) if route is not None else None
    view_log = request.app.get(VIEW_LOG)
    who = signed_in(request)
    if watched is None or view_log is None or who is None:
        return
    kind, name, via = watched
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or int(raw) > MAX_ID:
        return
    if kind == "customer":
        view_log.note(who.actor.user_id, customer_id=int(raw), via=via)
    else:
        view_log.note(who.actor.user_id, ticket_id=int(raw), via=via)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(note_view)
