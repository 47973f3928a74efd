"""A PBX crash and click-to-dial outcomes against the live Asterisk (issue 11, bugs 4 and 5)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from pbx_fixtures import Lab, SippProcess, _wait_bound, until
from sqlalchemy import func, select

from core.records import Ticket

pytestmark = pytest.mark.pbx

BUSY_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="customer busy">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]></send>
  <recv request="ACK" next="end"/>
  <label id="end"/>
</scenario>
"""


async def test_a_crash_ends_the_call_when_the_link_dropped_and_phones_show_unknown_meanwhile(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    alice = await live.console("agent", queues=("support",))
    live.customers.call("+8613800138050", "8000", "Gao Min", talk_ms=60000)
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    link = live.line.link
    connects = link.connects
    async with live.pbx.probe() as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
    await asyncio.sleep(2.0)
    crashed_at = datetime.now(UTC)
    await live.crash_pbx()  # kill -9: no Hangup, no Shutdown
    assert (await alice.next("cti.agent_state", lambda d: d["state"] == "unknown", within=5))["state"] == "unknown"
    me = await alice.api("GET", "/api/v1/cti/me")
    assert (me["lines"][0]["up"], me["lines"][0]["state"]) == (False, "unknown")
    await asyncio.sleep(3.0)  # the outage lasts: none of it is talk time
    await live.start_pbx()
    await until(lambda: link.connects > connects and link.up, within=10, what="the link back")
    # Reconnect attempts back off to at most reconnect_max_s (1.5 s): `frontdesk bench outage` measures the delay.
    reader = next(t for t in live.cti._tasks if t.name == "pbx:live")
    assert reader.backoff.maximum == live.line.settings.reconnect_max_s == 1.5
    ended = await alice.next("cti.call_panel", lambda d: d["state"] == "ended" and d["linkedid"] == panel["linkedid"])
    assert ended["call"]["outcome"] == "answered"
    # The restarted PBX has no dynamic members: Alice's phone state is known again.
    await alice.next("cti.agent_state", lambda d: d["state"] == "logged-out")
    [record] = await live.calls()
    assert record.ended_during_outage and record.outcome == "answered"
    assert record.ended_at is not None
    ended_at = record.ended_at if record.ended_at.tzinfo else record.ended_at.replace(tzinfo=UTC)
    assert abs((ended_at - crashed_at).total_seconds()) < 1.0  # when the link was lost, not at the reconnect
    assert 1.5 <= record.talk_s <= 4.0
    entries = [e for e in await live.timeline(record.ticket_id) if e.kind == "call"]
    assert [e.payload["ended_during_outage"] for e in entries] == [True]


async def test_click_to_dial_i_do_not_pick_up_is_answered_at_once_and_leaves_nothing_on_the_customer(lab: Lab) -> None:
    await lab.serve(dial_ring_s=4.0)
    lab.phones.start("1001", answer_ms=-1)
    lab.phones.customers_answer(answer_ms=500)
    alice = await lab.console("agent")
    async with lab.pbx.probe("call") as ami:
        asked = time.monotonic()
        placed = await alice.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
        # answered while Alice's phone still rings (4 s), not when the PBX gives up on it
        assert time.monotonic() - asked < 2.0 and placed["ok"] and placed["message"] == "ringing your phone"
        step = await alice.next("cti.progress", lambda d: d["linkedid"] == placed["linkedid"], within=15)
        assert step["step"] == "dial-agent-no-answer"
        await ami.until_no_channels()
        # Asterisk rang only Alice's phone; the customer was never dialled.
        assert [e["DestChannel"].rsplit("-", 1)[0] for e in ami.seen("DialBegin")] == ["PJSIP/1001"]
    assert "on-call" not in [d["state"] for d in alice.received("cti.agent_state")]
    assert not alice.received("cti.call_panel")
    assert await lab.calls() == []
    assert lab.services is not None
    async with lab.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_click_to_dial_a_busy_customer_is_reported_busy(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    scenario = live.phones.folder / "uas_busy.xml"
    scenario.write_text(BUSY_UAS)
    busy = SippProcess([live.phones.sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(live.pbx.ports.customer),
                        "-mp", str(live.pbx.pool.take(4)), "-nostdin"], live.phones.folder, "customer-busy")
    try:
        _wait_bound(live.pbx.ports.customer, busy)
        alice = await live.console("agent")
        async with live.pbx.probe("call") as ami:
            placed = await alice.api("POST", "/api/v1/cti/dial", json={"number": "+14155550123"})
            await alice.next("cti.progress", lambda d: d["step"] == "dial-calling-customer")
            said = await alice.next("cti.progress", lambda d: d["step"] not in ("dial-calling-customer",))
            assert (said["step"], said["detail"]["number"]) == ("dial-customer-busy", "+14155550123")
            assert [e["DialStatus"] for e in ami.seen("DialEnd") if "customer" in e.get("DestChannel", "")] == ["BUSY"]
            await ami.until_no_channels()
        [record] = await live.calls()
        assert (record.linkedid, record.outcome, record.number, record.answered_at) == (placed["linkedid"], "busy", "+14155550123", None)
    finally:
        busy.stop()
