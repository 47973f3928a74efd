"""The link to the live Asterisk: a restart in the middle of a call, and a wrong AMI secret."""

from __future__ import annotations

import asyncio
import time

import pytest
from pbx_fixtures import AMI_SECRET, Lab, until

pytestmark = pytest.mark.pbx


async def test_a_pbx_restart_mid_call_ends_the_calls_at_the_restart_and_the_link_comes_back(live: Lab) -> None:
    live.phones.start("1001", answer_ms=500)
    live.phones.start("1002", answer_ms=-1)
    alice = await live.console("agent", queues=("support",))
    bob = await live.console("agent2", queues=("support",))
    link = live.line.link
    connects = link.connects
    async with live.pbx.probe("on", transcript=live.transcript("live_pbx_restart")) as ami:
        talking = live.customers.call("+8613800138030", "8000", "Gao Min", talk_ms=60000)
        panel = await alice.next("cti.call_panel", lambda d: d["state"] == "live")
        await bob.next("cti.pop_withdrawn")  # ringall rang Bob too; Alice took it
        ringing = live.customers.call("+8613800138032", "8000", "Hu Jun", talk_ms=60000)
        pop = await bob.next("cti.pop", lambda d: d["linkedid"] != panel["linkedid"])  # Alice is busy: only Bob rings
        mark = len(ami.events)
        restarted_at = time.monotonic()
        await live.restart_pbx()
        # What real Asterisk does: the waiting caller is abandoned, the bridged call hangs up
        # normally (cause 16), the ringing leg and the waiting caller with cause 0; then Shutdown.
        after = ami.events[mark:]
        hangups = sorted((e["Channel"].rsplit("-", 1)[0], e["Cause"]) for e in after if e["Event"] == "Hangup")
        assert hangups == [("PJSIP/1001", "16"), ("PJSIP/1002", "0"), ("PJSIP/customer", "0"), ("PJSIP/customer", "16")]
        assert [e["Channel"] for e in after if e["Event"] == "QueueCallerAbandon"] == [ringing_channel(after, pop["linkedid"])]
        assert [(e["Event"], e.get("Restart")) for e in after if e["Event"] in ("Hangup", "Shutdown")][-1] == ("Shutdown", "True")
    ended = await alice.next("cti.call_panel", lambda d: d["state"] == "ended")
    assert ended["linkedid"] == panel["linkedid"]
    await bob.next("cti.pop_withdrawn", lambda d: d["linkedid"] == pop["linkedid"])  # Asterisk says NOANSWER
    assert await talking.wait(within=10) == 0 and await ringing.wait(within=10) == 0  # both got a BYE
    await until(lambda: link.connects > connects and link.up and link.resyncs >= 2, within=20, what="the link back")
    # The restart dropped the dynamic members: the console says so.
    await alice.next("cti.agent_state", lambda d: d["state"] == "logged-out")
    ready = await alice.client.http.get("/readyz")
    assert (await ready.json())["components"]["pbx:live"]["ok"] is True
    records = {r.linkedid: r for r in await live.calls()}
    assert (records[panel["linkedid"]].outcome, records[pop["linkedid"]].outcome) == ("answered", "abandoned")
    # Talk time stops at the restart, not at the reconnect.
    answered_at = next(f.at for f in alice.frames if f.event == "cti.call_panel" and f.data["state"] == "live")
    assert records[panel["linkedid"]].talk_s <= restarted_at - answered_at + 1.5
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


def ringing_channel(events: list[dict[str, str]], linkedid: str) -> str:
    """The customer channel of call ``linkedid``."""
    return next(e["Channel"] for e in events if e.get("Linkedid") == linkedid and e["Channel"].startswith("PJSIP/customer"))
