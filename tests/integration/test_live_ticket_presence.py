"""Presence on a ticket over the live socket: who has it open and who is replying, to the
ticket's other pages; gone when a page closes or moves on; nothing is written to the database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from test_cti_console import next_event, no_event, ws_of
from test_routing_actions import _mail
from web_fixtures import WebSite

from agent_ui.live.hub import LIVE_HUB
from agent_ui.live.ticket_presence import people_on, read_presence


async def presence(ws: ClientWebSocketResponse, ticket_id: int) -> list[dict[str, Any]]:
    while True:
        data = await next_event(ws, "ticket.presence")
        if data["ticket_id"] == ticket_id:
            return list(data["people"])


async def who_is_on(ws: ClientWebSocketResponse, ticket_id: int, expected: list[int]) -> None:
    """Frames come on every change: read them until the ticket's people are ``expected``."""
    while [p["user_id"] for p in await presence(ws, ticket_id)] != expected:
        pass


async def test_colleagues_see_who_views_and_who_replies_until_they_leave(site: WebSite) -> None:
    ticket_id = await _mail(site.services, None, "My order never came")
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    await ws2.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    await no_event(ws2, "ticket.presence", within=0.3)  # alone on it: nobody to tell
    await ws1.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    bob = {"user_id": site.users["agent"].id, "name": "Agent", "state": "viewing"}
    assert await presence(ws2, ticket_id) == [bob, {"user_id": site.users["agent2"].id, "name": "Agent2", "state": "viewing"}]
    assert bob in await presence(ws1, ticket_id)  # the newcomer learns who is there too
    await ws1.send_str(json.dumps({"presence": "replying"}))
    assert {**bob, "state": "replying"} in await presence(ws2, ticket_id)
    await ws1.send_str(json.dumps({"presence": "replying"}))  # said again: nothing new to tell
    await no_event(ws2, "ticket.presence", within=0.3)
    await ws1.send_str(json.dumps({"presence": "viewing"}))
    assert bob in await presence(ws2, ticket_id)
    # A second tab of Agent's typing makes Agent one person, replying.
    ws1b = await ws_of(agent)
    await ws1b.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    await ws1b.send_str(json.dumps({"presence": "replying"}))
    while {**bob, "state": "replying"} not in (people := await presence(ws2, ticket_id)):
        pass
    assert [p["user_id"] for p in people].count(site.users["agent"].id) == 1
    await ws1b.close()
    while bob not in await presence(ws2, ticket_id):  # the typing tab is gone: viewing again
        pass
    await ws1.send_str(json.dumps({"watch": {}}))  # Agent's page moved on to the queue
    await who_is_on(ws2, ticket_id, [site.users["agent2"].id])
    await ws1.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    assert bob in await presence(ws2, ticket_id)
    await ws1.close()  # the socket closes: gone
    await who_is_on(ws2, ticket_id, [site.users["agent2"].id])
    await asyncio.sleep(0.05)
    hub = site.server.app[LIVE_HUB]
    assert hub.connections == 1


def test_presence_messages_are_read_strictly() -> None:
    assert read_presence('{"presence": "replying"}') == "replying"
    assert read_presence('{"presence": "typing"}') is None
    assert read_presence('{"presence": "' + "x" * 100 + '"}') is None
    assert read_presence("[1]") is None and read_presence("ping") is None
    assert people_on([]) == []
