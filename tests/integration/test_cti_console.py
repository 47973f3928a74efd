"""The console's phone, end to end: simulator → server → the agents' real WebSockets and API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from cti_fixtures import until
from sqlalchemy import select
from web_fixtures import StaffClient, WebSite

from core.records import User
from cti.plugin import CTI
from cti.records import CallRecord
from cti.simulator import AmiSimulator, QueueCall


async def next_event(ws: ClientWebSocketResponse, name: str, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["event"] == name:
                return dict(message["data"])


async def no_event(ws: ClientWebSocketResponse, name: str, within: float = 0.5) -> None:
    try:
        async with asyncio.timeout(within):
            while True:
                message = json.loads((await ws.receive()).data)
                assert message["event"] != name, f"unexpected {name}: {message}"
    except TimeoutError:
        pass


async def ws_of(client: StaffClient) -> ClientWebSocketResponse:
    ws = await client.http.ws_connect("/ws")
    await asyncio.sleep(0.05)  # registered with the hub
    return ws


async def test_only_the_ringing_agents_browser_pops_and_the_pop_becomes_the_call_panel(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.3, talk_s=0.3)
    sim.spawn(sim.play(call.steps()))
    pop = await next_event(ws1, "cti.pop")
    assert pop["pop"]["customer"] is None and pop["pop"]["number"] == "+8613800138000"  # unknown caller
    assert pop["pop"]["number_display"] == "+86 138 0013 8000"
    panel = await next_event(ws1, "cti.call_panel")
    assert panel["state"] == "live" and panel["linkedid"] == pop["linkedid"]
    assert (await next_event(ws1, "cti.call_panel"))["state"] == "ended"
    await no_event(ws2, "cti.pop")
    # The unknown caller becomes a customer with one click.
    made = await agent.api("POST", "/api/v1/cti/customers", json={"number": pop["pop"]["number"], "name": "Zhang Wei"}, status=201)
    assert made["customer"]["phones"] == ["+8613800138000"]


async def test_click_to_dial_rings_my_phone_first_then_the_customer_and_i_can_hang_up(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    ws = await ws_of(agent)
    result = await agent.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
    assert result["ok"] and sim.actions["Originate"] == 1
    panel = await next_event(ws, "cti.call_panel")
    assert panel["state"] == "live" and panel["call"]["number"] == "+14155550123"
    me = await agent.api("GET", "/api/v1/cti/me")
    assert [c["linkedid"] for c in me["calls"]] == [result["linkedid"]]
    agent2 = await site.login("agent2")
    refused = await agent2.api("POST", f"/api/v1/cti/calls/{result['linkedid']}/hangup", json={}, status=403)
    assert refused["error"] == "forbidden"
    await agent.api("POST", f"/api/v1/cti/calls/{result['linkedid']}/hangup", json={})
    assert (await next_event(ws, "cti.call_panel"))["state"] == "ended"
    await until(lambda: sim.pbx.channels == {})
    cti = site.server.app[CTI]
    await cti.idle()
    async with site.services.db.session() as session:
        record = (await session.execute(select(CallRecord))).scalars().one()
    assert (record.direction, record.number, record.outcome, record.agent_id) == ("outbound", "+14155550123", "answered", site.users["agent"].id)


async def test_a_supervisor_transfers_an_agents_call_and_the_new_agent_gets_it(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent, agent2, supervisor = await site.login("agent"), await site.login("agent2"), await site.login("supervisor")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    call = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.1, talk_s=30)
    sim.spawn(sim.play(call.steps()))
    live = await next_event(ws1, "cti.call_panel")
    await supervisor.api("POST", f"/api/v1/cti/calls/{live['linkedid']}/transfer", json={"target": "1002"})
    assert (await next_event(ws2, "cti.pop"))["pop"]["number"] == "+447700900123"
    assert (await next_event(ws2, "cti.call_panel"))["state"] == "live"
    assert (await next_event(ws1, "cti.call_panel"))["state"] == "transferred"
    assert sim.actions["Redirect"] == 1


async def test_status_and_queue_membership_with_the_pbx_answers_shown(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    ws = await ws_of(agent)
    await agent.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "Lunch"})
    state = await next_event(ws, "cti.agent_state")
    assert (state["state"], state["reason"]) == ("paused", "Lunch")
    await agent.api("POST", "/api/v1/cti/status", json={"state": "wrap-up"})
    assert (await next_event(ws, "cti.agent_state"))["state"] == "wrap-up"
    await agent.api("POST", "/api/v1/cti/status", json={"state": "ready"})
    assert (await next_event(ws, "cti.agent_state"))["state"] == "ready"
    refusal = await agent.api("POST", "/api/v1/cti/queues/support/logout", json={}, status=409)
    assert refusal["error"] == "pbx-refused" and "permanent member of the queue" in refusal["message"]
    assert refusal["details"]["pbx_message"] == "Member not dynamic"  # the PBX's own words, for the API
    await agent.api("POST", "/api/v1/cti/queues/sales/login", json={})
    other = await agent.api("POST", "/api/v1/cti/queues/sales/login", json={"user_id": site.users["agent2"].id}, status=403)
    assert other["error"] == "forbidden"
    assert sim.pbx.members[("sales", "PJSIP/1001")].dynamic
    ready = await agent.http.get("/readyz")
    body = await ready.json()
    assert body["components"]["pbx:sim"]["ok"] is True


async def test_a_pbx_that_never_answers_is_reported_as_a_timeout(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    sim.hold_replies("QueuePause")
    answer = await agent.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "Break"}, status=504)
    assert answer["error"] == "pbx-timeout"


async def test_dialling_without_a_phone_is_refused_and_to_a_phone_the_pbx_does_not_know_is_reported_plainly(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    admin = await site.login("admin")
    no_phone = await admin.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"}, status=400)
    assert "no phone" in no_phone["message"]
    async with site.services.db.transaction() as session:
        user = await session.get(User, site.users["admin"].id)
        assert user is not None
        user.extension = "1009"  # not an endpoint of this PBX
    cti = site.server.app[CTI]
    await cti.directory.reload()
    # Asterisk queues the Originate and only then says the phone cannot be reached
    # (OriginateResponse Failure, Reason 0): the request answers at once, the outcome comes live.
    ws = await ws_of(admin)
    accepted = await admin.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
    assert accepted["ok"] and accepted["message"] == "ringing your phone"
    assert (await next_event(ws, "cti.progress"))["step"] == "dial-agent-unreachable"
    assert sim.actions["Originate"] == 1
    await until(lambda: cti.lines["sim"].tracker.outbound == {})
    bad = await admin.api("POST", "/api/v1/cti/dial", json={"number": "12; Action: Hangup"}, status=400)
    assert bad["error"] == "invalid-input" and sim.actions["Originate"] == 1
