"""Call control from the console against the live Asterisk: click-to-dial, blind transfer to an
agent, transfer into a queue. (Attended transfer and click-to-dial not answered or busy are
the scenarios of issue 11's bugs, in their own module.)"""

from __future__ import annotations

import pytest
from pbx_fixtures import Lab

pytestmark = pytest.mark.pbx


async def test_click_to_dial_rings_my_phone_then_the_customer_once_and_i_hang_up_from_the_console(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.customers_answer(answer_ms=800)
    alice = await live.console("agent")
    async with live.pbx.probe("call") as ami:
        placed = await alice.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
        assert placed["ok"]
        panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
        assert (panel["linkedid"], panel["call"]["number"]) == (placed["linkedid"], "+14155550123")
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        # Alice's phone was rung first, then the customer's, each exactly once.
        assert [e["DestChannel"].rsplit("-", 1)[0] for e in ami.seen("DialBegin")] == ["PJSIP/1001", "PJSIP/customer"]
        await alice.api("POST", f"/api/v1/cti/calls/{placed['linkedid']}/hangup", json={})
        await alice.next("cti.call_panel", lambda d: d["state"] == "ended")
        await ami.until_no_channels()
    [record] = await live.calls()
    assert (record.direction, record.number, record.outcome, record.agent_id) == ("outbound", "+14155550123", "answered", live.user_id("agent"))
    entries = [e for e in await live.timeline(record.ticket_id) if e.kind == "call"]
    assert [(e.payload["direction"], e.payload["outcome"]) for e in entries] == [("outbound", "answered")]


async def test_a_blind_transfer_moves_the_caller_to_the_other_agent_who_gets_the_pop_and_the_panel(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1002", answer_ms=1500)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2")
    customer = live.customers.call("+447700900124", "8000", "Rory Williams", talk_ms=12000)
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    assert bob.received("cti.pop") == []
    async with live.pbx.probe("call") as ami:
        await alice.api("POST", f"/api/v1/cti/calls/{panel['linkedid']}/transfer", json={"target": "1002"})
        pop = await bob.next("cti.pop")
        assert (pop["linkedid"], pop["pop"]["number"]) == (panel["linkedid"], "+447700900124")
        assert (await alice.next("cti.call_panel", lambda d: d["state"] != "live"))["state"] == "transferred"
        bob_panel = await bob.next("cti.call_panel", lambda d: d["state"] == "live")
        assert bob_panel["linkedid"] == panel["linkedid"]
        await ami.until_up("PJSIP/1002", "PJSIP/customer")
        assert [e["DestChannel"].rsplit("-", 1)[0] for e in ami.seen("DialBegin")] == ["PJSIP/1002"]
    me = await alice.api("GET", "/api/v1/cti/me")
    assert me["calls"] == []
    # Alice may no longer act on it; Bob may.
    await alice.api("POST", f"/api/v1/cti/calls/{panel['linkedid']}/hangup", json={}, status=403)
    await bob.api("POST", f"/api/v1/cti/calls/{panel['linkedid']}/hangup", json={})
    await bob.next("cti.call_panel", lambda d: d["state"] == "ended")
    assert await customer.wait(within=10) == 0
    [record] = await live.calls()  # one call across the transfer
    assert (record.outcome, record.agent_id, record.linkedid) == ("answered", live.user_id("agent2"), panel["linkedid"])


async def test_a_call_transferred_into_another_queue_rings_that_queues_agents(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1003", answer_ms=1000)
    alice = await live.console("agent", queues=("support",))
    carol = await live.console("agent3", queues=("sales",))
    customer = live.customers.call("+8613800138020", "8000", "Ma Rui", talk_ms=15000)
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    assert carol.received("cti.pop") == []
    async with live.pbx.probe("call,agent") as ami:
        await alice.api("POST", f"/api/v1/cti/calls/{panel['linkedid']}/transfer", json={"target": "8200"})
        pop = await carol.next("cti.pop")
        assert (pop["linkedid"], pop["pop"]["number"]) == (panel["linkedid"], "+8613800138020")
        assert (await alice.next("cti.call_panel", lambda d: d["state"] != "live"))["state"] == "transferred"
        await carol.next("cti.call_panel", lambda d: d["state"] == "live")
        assert [(e["Queue"], e["Interface"]) for e in ami.seen("AgentCalled")] == [("sales", "PJSIP/1003")]
        await ami.until_up("PJSIP/1003", "PJSIP/customer")
    await carol.api("POST", f"/api/v1/cti/calls/{panel['linkedid']}/hangup", json={})
    await carol.next("cti.call_panel", lambda d: d["state"] == "ended")
    assert await customer.wait(within=10) == 0
    [record] = await live.calls()
    assert (record.outcome, record.agent_id) == ("answered", live.user_id("agent3"))
