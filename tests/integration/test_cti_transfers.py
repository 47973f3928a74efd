"""Attended transfer, click-to-dial outcomes and a PBX crash, as the agents' consoles see them
(issue 11, bugs 1-5): simulator (ordered like a live Asterisk 22) → server → real WebSockets."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from aiohttp import ClientWebSocketResponse
from cti_fixtures import until
from sqlalchemy import func, select
from test_cti_console import next_event, no_event, ws_of
from web_fixtures import WebSite

from core.records import Ticket
from cti.plugin import CTI
from cti.records import CallRecord, CallSegment
from cti.simulator import AmiSimulator, QueueCall


async def progress(ws: ClientWebSocketResponse, within: float = 10.0) -> str:
    return str((await next_event(ws, "cti.progress", within))["step"])


async def alices_call(site: WebSite, sim: AmiSimulator, ws: ClientWebSocketResponse) -> str:
    call = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.05, talk_s=60)
    sim.spawn(sim.play(call.steps()))
    return str((await next_event(ws, "cti.call_panel"))["linkedid"])


async def test_attended_transfer_keeps_the_call_with_me_until_i_hang_up(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    linkedid = await alices_call(site, sim, ws1)
    answered = await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
    assert answered["ok"] and sim.actions["Atxfer"] == 1
    assert await progress(ws1) == "consulting"
    assert (await next_event(ws2, "cti.pop"))["pop"]["number"] == "+447700900123"  # Bob sees who it is about
    assert await progress(ws1) == "consult-answered"
    tracker = site.server.app[CTI].lines["sim"].tracker
    call = tracker.calls[linkedid]
    assert call.agent_user_id == site.users["agent"].id  # Bob talks to Alice; the call is still hers
    assert tracker.agents.lines["PJSIP/1001"].state == "on-call"
    await no_event(ws2, "cti.call_panel", within=0.3)
    # Alice hangs up: that is what completes an attended transfer.
    await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
    assert await progress(ws1) == "transfer-done"
    assert (await next_event(ws1, "cti.call_panel"))["state"] == "transferred"
    assert (await next_event(ws2, "cti.call_panel"))["state"] == "live"
    assert tracker.calls[linkedid].agent_user_id == site.users["agent2"].id
    # Bob ends the call: each agent's talk time is recorded, and the call's total.
    await agent2.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
    await until(lambda: linkedid not in tracker.calls)
    await site.server.app[CTI].idle()
    async with site.services.db.session() as session:
        record = (await session.execute(select(CallRecord).where(CallRecord.linkedid == linkedid))).scalars().one()
        segments = (await session.execute(select(CallSegment).where(CallSegment.call_id == record.id)
                                          .order_by(CallSegment.position))).scalars().all()
    assert [s.agent_id for s in segments] == [site.users["agent"].id, site.users["agent2"].id]
    assert all(s.talk_s > 0 for s in segments)
    assert abs(record.talk_s - sum(s.talk_s for s in segments)) < 0.01
    assert record.agent_id == site.users["agent2"].id
    # The ticket's timeline shows who talked how long.
    page = await agent.api("GET", f"/tickets/{record.ticket_id}")
    assert "Talk time by agent" in page and "PJSIP/" not in page  # the agents by name
    assert '<span class="call-segment">Agent ' in page and '<span class="call-segment">Agent2 ' in page


async def test_cancelling_a_consultation_gives_me_the_customer_back(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    sim.pbx.no_answer.add("PJSIP/1002")  # Bob's phone rings on
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    linkedid = await alices_call(site, sim, ws1)
    # Nothing to cancel yet: refused, and nothing reaches the PBX.
    await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer/cancel", json={}, status=409)
    assert sim.actions["CancelAtxfer"] == 0
    await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
    assert await progress(ws1) == "consulting"
    await next_event(ws2, "cti.pop")
    refused = await agent2.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer/cancel", json={}, status=403)
    assert refused["error"] == "forbidden"
    await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer/cancel", json={})
    assert sim.actions["CancelAtxfer"] == 1
    assert await progress(ws1) == "transfer-cancelled"
    assert (await next_event(ws2, "cti.pop_withdrawn"))["linkedid"] == linkedid
    tracker = site.server.app[CTI].lines["sim"].tracker
    assert tracker.calls[linkedid].agent_user_id == site.users["agent"].id and tracker.calls[linkedid].consult is None
    await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})  # still hers to end
    assert (await next_event(ws1, "cti.call_panel"))["state"] == "ended"


async def test_an_attended_transfer_the_pbx_drops_is_reported_failed(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    line = site.server.app[CTI].lines["sim"]
    line.settings = line.settings.model_copy(update={"transfer_timeout": 0.5})
    agent = await site.login("agent")
    ws = await ws_of(agent)
    linkedid = await alices_call(site, sim, ws)
    # 1009 has no phone: Asterisk accepts the Atxfer, then nothing follows.
    answered = await agent.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1009", "attended": True})
    assert answered["ok"]
    started = time.monotonic()
    assert await progress(ws, within=5) == "transfer-failed"
    assert time.monotonic() - started >= 0.4
    assert line.tracker.calls[linkedid].agent_user_id == site.users["agent"].id


async def test_click_to_dial_i_do_not_pick_up_answers_at_once_and_records_nothing(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    sim.pbx.no_answer.add("PJSIP/1001")
    agent = await site.login("agent")
    ws = await ws_of(agent)
    result = await agent.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
    assert result["ok"] and result["message"] == "ringing your phone"
    tracker = site.server.app[CTI].lines["sim"].tracker
    # Answered while Alice's phone still rings (the old request waited for the outcome, 30 s on a real PBX).
    assert result["linkedid"] in tracker.outbound or result["linkedid"] in tracker.calls
    assert await progress(ws) == "dial-agent-no-answer"
    states = []
    while True:  # nothing said "on call" while only my own phone rang
        try:
            states.append((await next_event(ws, "cti.agent_state", within=0.3))["state"])
        except TimeoutError:
            break
    assert "on-call" not in states
    await until(lambda: not tracker.calls)
    await site.server.app[CTI].idle()
    async with site.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(CallRecord)) == 0
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_click_to_dial_a_busy_customer_is_reported_busy(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    sim.pbx.busy.add("14155550123")
    agent = await site.login("agent")
    ws = await ws_of(agent)
    await agent.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
    assert await progress(ws) == "dial-calling-customer"
    assert await progress(ws) == "dial-customer-busy"
    tracker = site.server.app[CTI].lines["sim"].tracker
    await until(lambda: not tracker.calls)
    await site.server.app[CTI].idle()
    async with site.services.db.session() as session:
        record = (await session.execute(select(CallRecord))).scalars().one()
    assert (record.outcome, record.number, record.answered_at) == ("busy", "+14155550123", None)


async def test_pbx_crash_ends_the_call_when_the_link_dropped_and_phones_show_unknown(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    ws = await ws_of(agent)
    linkedid = await alices_call(site, sim, ws)
    await asyncio.sleep(0.5)
    cti = site.server.app[CTI]
    link = cti.lines["sim"].link
    connects = link.connects
    crashed_at = datetime.now(UTC)
    sim.crash()  # kill -9: no Hangup, the sockets just close
    state = await next_event(ws, "cti.agent_state")
    assert state["state"] == "unknown"
    me = await agent.api("GET", "/api/v1/cti/me")
    assert me["lines"][0]["state"] == "unknown"
    await until(lambda: link.connects > connects and link.resyncs >= 2, within=10)
    # Reconnect attempts back off to at most reconnect_max_s (bench outage measures the delay).
    reader = next(t for t in cti._tasks if t.name == "pbx:sim")
    assert reader.backoff.maximum == cti.lines["sim"].settings.reconnect_max_s == 1.5
    await asyncio.sleep(1.0)  # the outage goes on after the loss; none of it is talk time
    await until(lambda: linkedid not in cti.lines["sim"].tracker.calls)
    await cti.idle()
    async with site.services.db.session() as session:
        record = (await session.execute(select(CallRecord).where(CallRecord.linkedid == linkedid))).scalars().one()
    assert record.ended_during_outage and record.outcome == "answered"
    assert record.ended_at is not None
    ended_at = record.ended_at if record.ended_at.tzinfo else record.ended_at.replace(tzinfo=UTC)  # SQLite keeps no zone
    assert abs((ended_at - crashed_at).total_seconds()) < 0.5
    assert 0.3 < record.talk_s < 1.5
