"""The link to the live Asterisk: a restart in the middle of a call, and a wrong AMI secret."""

from __future__ import annotations

import asyncio
import time

import pytest
from pbx_fixtures import AMI_SECRET, Lab, until

pytestmark = pytest.mark.pbx


async def test_a_pbx_restart_mid_call_ends_the_call_at_the_restart_and_the_link_comes_back(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    alice = await live.console("agent", queues=("support",))
    customer = live.customers.call("+8613800138030", "8000", "Gao Min", talk_ms=60000)
    panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
    link = live.line.link
    connects = link.connects
    async with live.pbx.probe("call,system") as ami:
        await ami.until_up("PJSIP/1001", "PJSIP/customer")
        restarted_at = time.monotonic()
        await live.restart_pbx()
        # What the README says real Asterisk does: normal Hangups (cause 16), then Shutdown.
        assert {e["Cause"] for e in ami.seen("Hangup")} == {"16"}
        assert [e.get("Restart") for e in ami.seen("Shutdown")] == ["True"]
    ended = await alice.next("cti.call_panel", lambda d: d["state"] == "ended")
    assert ended["linkedid"] == panel["linkedid"]
    assert await customer.wait(within=10) == 0  # Asterisk sent the customer a BYE
    await until(lambda: link.connects > connects and link.up and link.resyncs >= 2, within=20, what="the link back")
    # The restart dropped the dynamic members: the console says so.
    await alice.next("cti.agent_state", lambda d: d["state"] == "logged-out")
    ready = await alice.client.http.get("/readyz")
    assert (await ready.json())["components"]["pbx:live"]["ok"] is True
    [record] = await live.calls()
    assert record.outcome == "answered"
    # Talk time stops at the restart, not at the reconnect.
    assert record.talk_s <= time.monotonic() - restarted_at + 5
    # And calls flow again once Alice logs back in.
    await alice.api("POST", "/api/v1/cti/queues/support/login", json={})
    again = live.customers.call("+8613800138031", "8000", "Gao Min", talk_ms=3000)
    await alice.next("cti.call_panel", lambda d: d["state"] == "live" and d["linkedid"] != panel["linkedid"])
    assert await again.wait(within=15) == 0


async def test_a_wrong_ami_secret_is_reported_plainly_without_the_secret(lab: Lab) -> None:
    wrong = "not-the-secret-42"
    site = await lab.serve(wait_link=False, secret=wrong)
    client = await site.login("agent")

    async def component() -> dict[str, object]:
        body = await (await client.http.get("/readyz")).json()
        return dict(body["components"].get("pbx:live") or {})

    for _ in range(100):
        health = await component()
        if health and not health.get("ok") and "refused" in str(health):
            break
        await asyncio.sleep(0.1)
    text = str(health)
    assert "AMI login to live refused" in text and "Authentication failed" in text
    assert wrong not in text and AMI_SECRET not in text
    refusal = await client.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "Break"}, status=503)
    assert wrong not in str(refusal)
    assert not lab.line.link.up
