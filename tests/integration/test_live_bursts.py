"""A burst of committed changes reaches every open console (found by the live-PBX suite: at
10 calls/s one call-recorder batch publishes hundreds of ticket events at once)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType
from web_fixtures import WebSite

from agent_ui.live.hub import LIVE_HUB, QUEUE_SIZE
from core.events import TicketUpdated


async def test_one_commit_publishing_more_events_than_a_consoles_queue_holds_reaches_it_whole(site: WebSite) -> None:
    agent = await site.login("agent")
    ws = await agent.http.ws_connect("/ws")
    await ws.send_str("ping")
    assert json.loads((await ws.receive()).data)["event"] == "pong"
    burst = 2 * QUEUE_SIZE
    desk = site.services.desk
    async with site.services.db.session() as session:
        for n in range(burst):
            desk.emit(session, TicketUpdated(ticket_id=n + 1, queue="support", fields=("status",)))
        await desk.commit_and_publish(session)
    received = []
    async with asyncio.timeout(10):
        while len(received) < burst:
            message = await ws.receive()
            assert message.type == WSMsgType.TEXT, f"console closed after {len(received)} of {burst}: {message}"
            received.append(json.loads(message.data)["data"]["ticket_id"])
    assert received == list(range(1, burst + 1))
    assert site.server.app[LIVE_HUB].dropped == 0
    await ws.close()
