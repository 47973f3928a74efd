"""The live WebSocket: who gets which event, over a real socket."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, ClassVar

from aiohttp import ClientWebSocketResponse, WSServerHandshakeError
from web_fixtures import StaffClient, WebSite

from core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class PrivateNudge(DomainEvent):
    name: ClassVar[str] = "test.private_nudge"
    user_ids: tuple[int, ...]
    text: str


@dataclasses.dataclass(frozen=True)
class EveryoneNudge(DomainEvent):
    name: ClassVar[str] = "test.everyone_nudge"
    text: str


async def next_event(ws: ClientWebSocketResponse, name: str | None = None) -> dict[str, Any]:
    """The next message (optionally the next one called ``name``), within a few seconds."""
    async with asyncio.timeout(5):
        while True:
            message = json.loads((await ws.receive()).data)
            if name is None or message["event"] == name:
                return message


async def connect(client: StaffClient) -> ClientWebSocketResponse:
    return await client.http.ws_connect("/ws")


async def test_a_stranger_cannot_open_the_live_feed(site: WebSite) -> None:
    anon = await site.anonymous()
    try:
        await anon.http.ws_connect("/ws")
    except WSServerHandshakeError as exc:
        assert exc.status == 401
    else:
        raise AssertionError("the handshake should have been refused")


async def test_another_site_cannot_borrow_the_cookie(site: WebSite) -> None:
    agent = await site.login("agent")
    try:
        await agent.http.ws_connect("/ws", origin="https://evil.example")
    except WSServerHandshakeError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a foreign origin should have been refused")


async def test_a_ticket_created_through_the_api_reaches_every_console(site: WebSite) -> None:
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await connect(agent), await connect(agent2)
    robot = await site.token_client("supervisor")
    made = await robot.api("POST", "/api/v1/tickets", json={"subject": "Live one"}, status=201)
    for ws in (ws1, ws2):
        message = await next_event(ws, "ticket.created")
        assert message["data"]["ticket_id"] == made["ticket"]["id"]
        assert message["data"]["channel"] == "web"
    await robot.api("PATCH", f"/api/v1/tickets/{made['ticket']['id']}", json={"status": "open"})
    updated = await next_event(ws1, "ticket.updated")
    assert updated["data"]["fields"] == ["status"]


async def test_an_event_for_one_user_reaches_only_that_user(site: WebSite) -> None:
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await connect(agent), await connect(agent2)
    await asyncio.sleep(0)  # let both sockets register (they are attached before the handshake answers)
    await site.services.bus.publish(PrivateNudge((site.users["agent"].id,), "your phone rings"))
    await site.services.bus.publish(EveryoneNudge("after"))
    assert await next_event(ws1) == {
        "event": "test.private_nudge",
        "data": {"user_ids": [site.users["agent"].id], "text": "your phone rings"},
    }
    assert (await next_event(ws1))["event"] == "test.everyone_nudge"
    # Each socket is in order: agent2's first message is the broadcast, so the pop never came.
    assert (await next_event(ws2))["event"] == "test.everyone_nudge"


async def test_an_api_token_opens_the_live_feed_too(site: WebSite) -> None:
    robot = await site.token_client("agent")
    ws = await robot.http.ws_connect("/ws")
    await ws.send_str("ping")
    assert (await next_event(ws))["event"] == "pong"


async def test_a_console_hears_only_of_the_ticket_it_shows(site: WebSite) -> None:
    robot = await site.token_client("supervisor")
    shown = (await robot.api("POST", "/api/v1/tickets", json={"subject": "On screen"}, status=201))["ticket"]["id"]
    other = (await robot.api("POST", "/api/v1/tickets", json={"subject": "Elsewhere"}, status=201))["ticket"]["id"]
    agent = await site.login("agent")
    ws = await connect(agent)
    await ws.send_str(json.dumps({"watch": {"ticket": shown}}))
    await ws.send_str("ping")
    assert (await next_event(ws))["event"] == "pong"  # the watch was read before the ping
    await robot.api("PATCH", f"/api/v1/tickets/{other}", json={"status": "open"})
    await robot.api("PATCH", f"/api/v1/tickets/{shown}", json={"status": "open"})
    message = await next_event(ws)  # the first frame after the other ticket's changes is about the shown one
    assert message["event"].startswith("ticket.") and message["data"]["ticket_id"] == shown


async def test_a_change_on_many_queue_pages_reaches_each_of_them_once(site: WebSite) -> None:
    """Past the hub's fan-out slice (64) the frame is built once and written to each socket directly."""
    agent = await site.login("agent")
    pages = [await connect(agent) for _ in range(70)]
    for ws in pages:
        await ws.send_str(json.dumps({"watch": {"queue": "status=open"}}))
        await ws.send_str("ping")
        assert (await next_event(ws))["event"] == "pong"
    robot = await site.token_client("supervisor")
    made = await robot.api("POST", "/api/v1/tickets", json={"subject": "Seen by all"}, status=201)
    for ws in pages:
        message = await next_event(ws, "ticket.created")
        assert message["data"]["ticket_id"] == made["ticket"]["id"]
    await asyncio.sleep(0.7)  # a list tick later: the creation was not sent twice
    await pages[0].send_str("ping")
    later = []
    while (message := await next_event(pages[0]))["event"] != "pong":
        later.append(message["event"])
    assert "ticket.created" not in later
