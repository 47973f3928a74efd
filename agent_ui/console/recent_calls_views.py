"""``GET /console/recent-calls``: the agent's recent calls, rendered in their language.

The list is read from the call records (``cti.recent_calls``), so a pop the agent missed
is still there after a reload; the panel fetches this fragment again whenever the server
says one of their calls was recorded (``cti.call_recorded`` over the live socket).
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from cti.recent_calls import recent_calls


async def recent_calls_fragment(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)  # anyone signed in: each person sees only the calls of their own phone
    calls = []
    if actor.user_id is not None:
        async with request.app[SERVICES].db.session() as session:
            calls = await recent_calls(session, actor.user_id)
    return render("cti/recent_calls.html", request, {"calls": calls})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/console/recent-calls", recent_calls_fragment)
