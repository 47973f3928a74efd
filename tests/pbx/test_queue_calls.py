"""Queue calls through the live Asterisk: who is rung gets the pop, the others get nothing, and
what the console showed matches what Asterisk reports and what the database recorded."""

from __future__ import annotations

import pytest
from pbx_fixtures import Caller, Lab

pytestmark = pytest.mark.pbx


async def test_a_queue_call_pops_only_on_the_ringing_agents_and_is_withdrawn_from_the_one_who_did_not_answer(live: Lab) -> None:
    live.phones.start("1001", answer_ms=1500)
    live.phones.start("1002", answer_ms=-1)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2", queues=("support",))
    carol = await live.console("agent3")  # not in the queue: never rung
    async with live.pbx.probe("call,agent") as ami:
        assert set((await ami.queue("support")).members) == {"PJSIP/1001", "PJSIP/1002"}
        customer = live.customers.call("+8613800138000", "8000", "Zhang Wei", talk_ms=5000)

        pop = await alice.next("cti.pop")
        assert pop["pop"]["number"] == "+8613800138000" and pop["pop"]["queue"] == "support"
        assert (await bob.next("cti.pop"))["linkedid"] == pop["linkedid"]
        panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
        assert panel["linkedid"] == pop["linkedid"]
        assert (await bob.next("cti.pop_withdrawn"))["reason"] == "answered-elsewhere"
        # Asterisk agrees: it rang exactly Alice and Bob, Alice took it, Bob's phone stopped.
        assert ami.rung() == {("PJSIP/1001", pop["linkedid"]), ("PJSIP/1002", pop["linkedid"])}
        assert await ami.interfaces() == ["PJSIP/1001", "PJSIP/customer"]

        assert await customer.wait(within=20) == 0
    assert (await alice.next("cti.call_panel", lambda d: d["state"] == "ended"))["linkedid"] == pop["linkedid"]
    assert carol.received("cti.pop") == [] and bob.received("cti.call_panel") == []
    [record] = await live.calls()
    assert (record.outcome, record.agent_id, record.queue, record.number) == ("answered", live.user_id("agent"), "support", "+8613800138000")
    # The customer hangs up 5 s after Asterisk answered; Alice picked up ~2 s in (0.5 s + 1.5 s ring).
    assert 2 <= record.talk_s <= 4
    entries = [e for e in await live.timeline(record.ticket_id) if e.kind == "call"]
    assert [(e.payload["outcome"], e.payload["agent_id"]) for e in entries] == [("answered", live.user_id("agent"))]


async def test_three_concurrent_callers_each_reach_one_agent_and_every_pop_matches_a_ring(live: Lab) -> None:
    agents = {"agent": "1001", "agent2": "1002", "agent3": "1003"}
    for extension in agents.values():
        live.phones.start(extension, answer_ms=1000)
    consoles = {login: await live.console(login, queues=("support",)) for login in agents}
    callers = [Caller("+8613800138001", "8000", "Li Na"), Caller("+447700900123", "8000", "Amy Pond"),
               Caller("+14155550123", "8000", "Sam Reed")]
    async with live.pbx.probe("call,agent") as ami:
        customers = live.customers.place(callers, talk_ms=9000)
        live_panels = {login: await c.next("cti.call_panel", lambda d: d["state"] == "live", within=25)
                       for login, c in consoles.items()}
        # All three calls are up at once, each with its own agent.
        assert len({p["linkedid"] for p in live_panels.values()}) == 3
        assert sorted(p["call"]["number"] for p in live_panels.values()) == sorted(c.number for c in callers)
        assert await ami.interfaces() == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"] + ["PJSIP/customer"] * 3
        assert await customers.wait(within=30) == 0
        popped = {(f"PJSIP/{agents[login]}", pop["linkedid"]) for login, c in consoles.items() for pop in c.received("cti.pop")}
        assert popped == ami.rung()  # a pop for every ring Asterisk made, and only those
    for login, console in consoles.items():
        await console.next("cti.call_panel", lambda d: d["state"] == "ended")
        assert [p["linkedid"] for p in console.received("cti.call_panel", lambda d: d["state"] == "live")] == [live_panels[login]["linkedid"]]
    records = await live.calls()
    assert sorted((r.outcome, r.agent_id) for r in records) == sorted(("answered", live.user_id(login)) for login in agents)


async def test_a_caller_who_hangs_up_in_the_queue_is_abandoned_and_the_ringing_pop_withdrawn(live: Lab) -> None:
    live.phones.start("1001", answer_ms=-1)
    alice = await live.console("agent", queues=("support",))
    async with live.pbx.probe() as ami:
        before = (await ami.queue("support")).counter("Abandoned")
        customer = live.customers.call("+8613800138002", "8000", "Wang Fang", talk_ms=3000)
        pop = await alice.next("cti.pop")
        assert await customer.wait(within=20) == 0
        withdrawn = await alice.next("cti.pop_withdrawn")
        assert withdrawn["linkedid"] == pop["linkedid"]
        await ami.until_no_channels()
        assert (await ami.queue("support")).counter("Abandoned") == before + 1
    assert alice.received("cti.call_panel") == []
    [record] = await live.calls()
    assert (record.outcome, record.answered_at, record.agent_id) == ("abandoned", None, None)
    assert 2 <= record.wait_s <= 4


async def test_a_caller_the_queue_gives_up_on_is_recorded_as_a_timeout_with_a_callback(live: Lab) -> None:
    live.phones.start("1001", answer_ms=-1)
    alice = await live.console("agent", queues=("support",))
    customer = live.customers.call("+8613800138003", "8001", "Zhao Lei", talk_ms=20000)  # 8001 gives up after 5 s
    await alice.next("cti.pop")
    assert await customer.wait(within=20) == 0  # the PBX hung up on the caller
    await alice.next("cti.pop_withdrawn")
    [record] = await live.calls()
    assert (record.outcome, record.queue) == ("timeout", "support")
    assert 4 <= record.wait_s <= 7
    callbacks = [e for e in await live.timeline() if e.payload.get("callback")]
    assert [(e.payload["number"], e.payload["timeout"]) for e in callbacks] == [("+8613800138003", True)]
