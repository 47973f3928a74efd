"""Attended transfer against the live Asterisk (issue 11, bugs 1-3): the transferring agent keeps
the call while consulting; only Asterisk's AttendedTransfer (on their hang-up) hands it over;
a consulted agent who does not answer, a cancel, or a transfer the PBX drops leave it with them;
each agent's talk time is recorded."""

from __future__ import annotations

import asyncio
import time

import pytest
from pbx_fixtures import Console, Lab
from sqlalchemy import select

from cti.records import CallSegment

pytestmark = pytest.mark.pbx


async def answered_call(live: Lab, number: str, dest: str = "8000") -> tuple[Console, Console, str]:
    """Alice (1001, in queue support) answers a customer's call; Bob (1002) is at his desk."""
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2")
    live.customers.call(number, dest, "Zhang Wei", talk_ms=60000)
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    return alice, bob, str(panel["linkedid"])


def steps(console: Console) -> list[str]:
    return [d["step"] for d in console.received("cti.progress")]


async def test_the_call_changes_hands_only_when_i_hang_up_after_consulting(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1002", answer_ms=1500)
    alice, bob, linkedid = await answered_call(live, "+8613800138040")
    async with live.pbx.probe("call") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        requested = await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
        assert requested["ok"]
        await alice.next("cti.progress", lambda d: d["step"] == "consulting")
        assert (await bob.next("cti.pop"))["linkedid"] == linkedid  # Bob's phone rings with the caller shown
        await alice.next("cti.progress", lambda d: d["step"] == "consult-answered")
        # Bob talks with Alice on a Local/ leg of the same call; the customer waits. Alice still owns it.
        assert {c["Channel"].split("@")[0].rsplit("-", 1)[0] for c in await ami.channels()} >= {"PJSIP/1001", "PJSIP/1002", "PJSIP/customer", "Local/1002"}
        call = live.line.tracker.calls[linkedid]
        assert call.agent_user_id == live.user_id("agent")
        assert not alice.received("cti.call_panel", lambda d: d["state"] == "transferred")
        assert alice.received("cti.agent_state")[-1]["state"] == "on-call"
        assert not bob.received("cti.call_panel")
        # Alice hangs up: Asterisk completes the transfer (AttendedTransfer) and Bob has the customer.
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await alice.next("cti.progress", lambda d: d["step"] == "transfer-done")
        assert [e["Result"] for e in ami.seen("AttendedTransfer")] == ["Success"]
        await alice.next("cti.call_panel", lambda d: d["state"] == "transferred")
        await bob.next("cti.call_panel", lambda d: d["state"] == "live" and d["linkedid"] == linkedid)
        assert live.line.tracker.calls[linkedid].agent_user_id == live.user_id("agent2")
        await asyncio.sleep(1.0)  # Bob's part of the call
        await bob.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await ami.until_no_channels()
    [record] = await live.calls()
    assert (record.agent_id, record.outcome) == (live.user_id("agent2"), "answered")
    assert live.services is not None
    async with live.services.db.session() as session:
        segments = (await session.execute(select(CallSegment).where(CallSegment.call_id == record.id)
                                          .order_by(CallSegment.position))).scalars().all()
    assert [s.agent_id for s in segments] == [live.user_id("agent"), live.user_id("agent2")]
    assert segments[0].talk_s >= 3 and segments[1].talk_s >= 0.8  # Alice: talk + consultation; Bob: after the handover
    assert abs(record.talk_s - sum(s.talk_s for s in segments)) < 0.01
    entries = [e for e in await live.timeline(record.ticket_id) if e.kind == "call"]
    assert [len(e.payload.get("segments", [])) for e in entries] == [2]


async def test_cancelling_the_consultation_takes_me_back_to_the_customer(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1002", answer_ms=-1)
    alice, bob, linkedid = await answered_call(live, "+8613800138041")
    async with live.pbx.probe("call") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
        await alice.next("cti.progress", lambda d: d["step"] == "consulting")
        await bob.next("cti.pop")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer/cancel", json={})
        await alice.next("cti.progress", lambda d: d["step"] == "transfer-cancelled")
        await bob.next("cti.pop_withdrawn", lambda d: d["linkedid"] == linkedid)
        await ami.until_up("PJSIP/1001", "PJSIP/customer")  # Bob's leg and the Local/ pair are gone
        assert not ami.seen("AttendedTransfer")
        assert live.line.tracker.calls[linkedid].agent_user_id == live.user_id("agent")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})  # still hers to end
        await alice.next("cti.call_panel", lambda d: d["state"] == "ended")
        await ami.until_no_channels()
    [record] = await live.calls()
    assert record.agent_id == live.user_id("agent")
    assert "transfer-done" not in steps(alice)


async def test_a_consulted_agent_who_does_not_answer_leaves_the_call_with_me(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1002", answer_ms=-1)  # Bob lets it ring: Asterisk gives up (atxfernoanswertimeout 5 s)
    alice, bob, linkedid = await answered_call(live, "+8613800138042")
    async with live.pbx.probe("call") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
        await alice.next("cti.progress", lambda d: d["step"] == "consulting")
        await alice.next("cti.progress", lambda d: d["step"] == "transfer-declined", within=20)
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        assert live.line.tracker.calls[linkedid].agent_user_id == live.user_id("agent")
        assert not bob.received("cti.call_panel")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await ami.until_no_channels()
    [record] = await live.calls()
    assert record.agent_id == live.user_id("agent")


async def test_a_transfer_the_pbx_drops_is_reported_failed_and_the_call_stays_mine(lab: Lab) -> None:
    await lab.serve(transfer_timeout=6.0)
    lab.phones.start("1001", answer_ms=500)
    lab.phones.start("1002", answer_ms=500)
    # 8001 queues without the t option: Asterisk accepts the Atxfer, then does nothing.
    alice, bob, linkedid = await answered_call(lab, "+8613800138043", dest="8001")
    async with lab.pbx.probe("call") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        asked = time.monotonic()
        requested = await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002", "attended": True})
        assert requested["ok"]  # "queued" is all the PBX said
        failed = await alice.next("cti.progress", lambda d: d["step"] == "transfer-failed", within=15)
        assert failed["detail"]["target"] == "1002" and time.monotonic() - asked >= 5.5
        assert not [e for e in ami.seen("DialBegin") if "1002" in e.get("DestChannel", "")]
        assert await ami.interfaces() == ["PJSIP/1001", "PJSIP/customer"]
        assert lab.line.tracker.calls[linkedid].agent_user_id == lab.user_id("agent")
        assert not bob.received("cti.pop")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await ami.until_no_channels()


async def test_consulting_a_queue_hands_the_call_to_the_agent_who_answered_there(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1003", answer_ms=1500)
    carol = await live.console("agent3", queues=("sales",))
    alice, _bob, linkedid = await answered_call(live, "+8613800138044")
    async with live.pbx.probe("call") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "8200", "attended": True})
        await alice.next("cti.progress", lambda d: d["step"] == "consulting")
        await carol.next("cti.pop", lambda d: d["linkedid"] == linkedid)
        await alice.next("cti.progress", lambda d: d["step"] == "consult-answered")
        # The sales queue connected Carol to Alice's consultation leg; the call is still Alice's.
        assert live.line.tracker.calls[linkedid].agent_user_id == live.user_id("agent")
        assert not carol.received("cti.call_panel")
        await alice.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await alice.next("cti.progress", lambda d: d["step"] == "transfer-done")
        await carol.next("cti.call_panel", lambda d: d["state"] == "live" and d["linkedid"] == linkedid)
        call = live.line.tracker.calls[linkedid]
        assert (call.agent_user_id, call.customer_channel is not None and call.customer_channel.startswith("PJSIP/customer-")) == (
            live.user_id("agent3"), True)
        await carol.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
        await ami.until_no_channels()
    [record] = await live.calls()
    assert record.agent_id == live.user_id("agent3")
