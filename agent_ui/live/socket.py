"""``GET /ws``: a signed-in page's live feed, attached to the hub.

Only the handshake and the page's messages (``ping``, ``{"watch": ...}``, ``{"presence": ...}``) are read here;
what each connection hears is the hub's business (``agent_ui.live.hub``).
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from agent_ui.base.identity import actor_of, same_origin, signed_in
from agent_ui.live.drain import DRAIN
from agent_ui.live.hub import LIVE_HUB, read_watch
from agent_ui.live.ticket_presence import read_presence
from core.errors import Forbidden


async def live_socket(request: web.Request) -> web.StreamResponse:
    """``GET /ws``: the console's live feed (session cookie or API token)."""
    request.app[DRAIN].refuse_new_socket()
    actor = actor_of(request)
    who = signed_in(request)
    if who is not None and not who.via_token and not same_origin(request):
        raise Forbidden("the live feed only serves this site's own pages", {"origin": request.headers.get("Origin")})
    hub = request.app[LIVE_HUB]
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    transport = request.transport if isinstance(request.transport, asyncio.Transport) else None
    conn = hub.attach(ws, actor, transport, who.user.display_name if who is not None else "",
                      who.csrf_token if who is not None and not who.via_token else None)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                conn.offer('{"event": "pong", "data": {}}')
            elif msg.type == WSMsgType.TEXT and (state := read_presence(msg.data)) is not None:
                hub.set_presence(conn, state)
            elif msg.type == WSMsgType.TEXT:
                watch = read_watch(msg.data, actor)
                if watch is not None:
                    hub.watch(conn, watch)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.detach(conn)
    return ws
