"""Queue calls through the live Asterisk: who is rung gets the pop, the others get nothing, and
what the console showed matches what Asterisk reports and what the database recorded."""

from __future__ import annotations

import pytest
from pbx_fixtures import Lab
from sqlalchemy import select

from cti.records import CallRecord

pytestmark = pytest.mark.pbx


async def test_a_queue_call_pops_only_on_the_ringing_agents_and_is_withdrawn_from_the_one_who_did_not_answer(live: Lab) -> None:
    live.phones.start("1001", answer_ms=1500)
    live.phones.start("1002", answer_ms=-1)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2", queues=("support",))
    carol = await live.console("agent3")  # not in the queue: never rung
    async with live.pbx.probe() as ami:
        assert set((await ami.queue("support")).members) == {"PJSIP/1001", "PJSIP/1002"}
    customer = live.customers.call("+8613800138000", "8000", "Zhang Wei", talk_ms=5000)

    pop = await alice.next("cti.pop")
    assert pop["pop"]["number"] == "+8613800138000" and pop["pop"]["queue"] == "support"
    assert (await bob.next("cti.pop"))["linkedid"] == pop["linkedid"]
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    assert panel["linkedid"] == pop["linkedid"]
    withdrawn = await bob.next("cti.pop_withdrawn")
    assert withdrawn["reason"] == "answered-elsewhere"
    async with live.pbx.probe() as ami:
        channels = {c["Channel"].rsplit("-", 1)[0] for c in await ami.channels()}
    assert channels == {"PJSIP/customer", "PJSIP/1001"}  # Asterisk agrees: Alice took it, Bob no longer rings

    assert await customer.wait(within=20) == 0
    assert (await alice.next("cti.call_panel", lambda d: d["state"] == "ended"))["linkedid"] == pop["linkedid"]
    assert carol.received("cti.pop") == [] and bob.received("cti.call_panel") == []
    await live.idle()
    async with live.services.db.session() as session:  # type: ignore[union-attr]
        record = (await session.execute(select(CallRecord))).scalars().one()
    assert (record.outcome, record.agent_id, record.queue, record.number) == ("answered", live.user_id("agent"), "support", "+8613800138000")
    # The customer hangs up 5 s after Asterisk answered; Alice picked up ~2 s in (0.5 s + 1.5 s ring).
    assert 2 <= record.talk_s <= 4
