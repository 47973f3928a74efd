"""A customer dialling an agent's own number (no queue) through the live Asterisk."""

from __future__ import annotations

import pytest
from pbx_fixtures import Lab

pytestmark = pytest.mark.pbx


async def test_a_direct_call_pops_on_that_agent_only_and_is_recorded_without_a_queue(live: Lab) -> None:
    live.phones.start("1002", answer_ms=1000)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2")
    async with live.pbx.probe("call") as ami:
        customer = live.customers.call("+14155550177", "1002", "Dana Scully", talk_ms=4000)
        pop = await bob.next("cti.pop")
        assert (pop["pop"]["number"], pop["pop"]["queue"]) == ("+14155550177", None)
        await bob.next("cti.call_panel", lambda d: d["state"] == "live")
        assert ami.rung() == {("PJSIP/1002", pop["linkedid"])}
        assert await customer.wait(within=15) == 0
    await bob.next("cti.call_panel", lambda d: d["state"] == "ended")
    assert alice.received("cti.pop") == []
    [record] = await live.calls()
    assert (record.outcome, record.agent_id, record.queue) == ("answered", live.user_id("agent2"), None)


async def test_a_direct_call_to_a_busy_phone_is_withdrawn_and_recorded_as_not_answered(live: Lab) -> None:
    live.phones.start("1002", answer_ms=None)  # busy: 486
    bob = await live.console("agent2")
    async with live.pbx.probe("call") as ami:
        customer = live.customers.call("+14155550178", "1002", "Fox Mulder", talk_ms=4000)
        assert await customer.wait(within=15) != 0  # Asterisk refused the caller: no answer came
        assert [e["DialStatus"] for e in ami.seen("DialEnd")] == ["BUSY"]
        await ami.until_no_channels()
    pops = bob.received("cti.pop")
    withdrawn = bob.received("cti.pop_withdrawn")
    assert [p["linkedid"] for p in pops] == [w["linkedid"] for w in withdrawn]  # any pop shown was taken back
    assert bob.received("cti.call_panel") == []
    [record] = await live.calls()
    assert (record.outcome, record.answered_at) == ("no-answer", None)
