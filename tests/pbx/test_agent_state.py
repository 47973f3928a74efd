"""Pausing through the console against the live Asterisk: the PBX holds the pause (and its reason),
a paused agent is not offered the next call, and the console shows the state the PBX reports."""

from __future__ import annotations

import pytest
from pbx_fixtures import Lab

pytestmark = pytest.mark.pbx


async def test_pausing_while_the_phone_rings_keeps_the_next_call_away(live: Lab) -> None:
    live.phones.start("1001", answer_ms=-1)
    live.phones.start("1002", answer_ms=1000)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2")
    async with live.pbx.probe("call,agent") as ami:
        first = live.customers.call("+8613800138010", "8000", "Chen Jie", talk_ms=4000)
        pop = await alice.next("cti.pop")
        await alice.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "Lunch"})
        state = await alice.next("cti.agent_state", lambda d: d["state"] == "paused")
        assert state["reason"] == "Lunch"
        member = (await ami.queue("support")).members["PJSIP/1001"]
        assert (member["Paused"], member["PausedReason"]) == ("1", "Lunch")
        assert await first.wait(within=20) == 0  # the caller gives up: nobody took the call
        await alice.next("cti.pop_withdrawn", lambda d: d["linkedid"] == pop["linkedid"])

        # Bob logs in; the next caller rings Bob only, never the paused Alice.
        await bob.api("POST", "/api/v1/cti/queues/support/login", json={})
        ringing_before = len(alice.received("cti.pop"))
        second = live.customers.call("+8613800138011", "8000", "Liu Yang", talk_ms=3000)
        bob_pop = await bob.next("cti.pop")
        await bob.next("cti.call_panel", lambda d: d["state"] == "live")
        assert await second.wait(within=20) == 0
        assert len(alice.received("cti.pop")) == ringing_before
        assert ("PJSIP/1001", bob_pop["linkedid"]) not in ami.rung()
        assert (await ami.queue("support")).paused("PJSIP/1001")
    me = await alice.api("GET", "/api/v1/cti/me")
    assert [(line["state"], line["reason"]) for line in me["lines"]] == [("paused", "Lunch")]


async def test_pausing_on_a_call_shows_on_call_until_it_ends_then_paused(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    alice = await live.console("agent", queues=("support",))
    await alice.next("cti.agent_state", lambda d: d["state"] == "ready")
    customer = live.customers.call("+8613800138012", "8000", "Sun Li", talk_ms=4000)
    await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    on_call = len(alice.frames)
    await alice.api("POST", "/api/v1/cti/status", json={"state": "wrap-up"})
    async with live.pbx.probe() as ami:
        member = (await ami.queue("support")).members["PJSIP/1001"]
        assert (member["Paused"], member["PausedReason"], member["InCall"]) == ("1", "wrap-up", "1")
    assert await customer.wait(within=20) == 0
    await alice.next("cti.call_panel", lambda d: d["state"] == "ended")
    # On the call the console kept saying on-call; once it ended, wrap-up (the pause the PBX holds).
    states = [d["state"] for d in alice.received("cti.agent_state")]
    assert states[-1] == "wrap-up" and "on-call" in states
    assert "wrap-up" not in [f.data["state"] for f in alice.frames[on_call:] if f.event == "cti.agent_state"][:-1]
    mark = len(alice.frames)
    await alice.api("POST", "/api/v1/cti/status", json={"state": "ready"})
    await alice.next("cti.agent_state", lambda d: d["state"] == "ready", after=mark)
    async with live.pbx.probe() as ami:
        assert not (await ami.queue("support")).paused("PJSIP/1001")
