"""A minute at 10 calls/s through the live Asterisk: every call placed is recorded once, answered
by the agent whose console showed it, and Asterisk's own count agrees."""

from __future__ import annotations

import collections

import pytest
from pbx_fixtures import Caller, Lab

pytestmark = [pytest.mark.pbx, pytest.mark.slow]

CALLS_PER_S = 10
SECONDS = 60


async def test_a_minute_at_ten_calls_a_second_every_call_is_accounted_for(live: Lab) -> None:
    agents = {"agent": "1001", "agent2": "1002", "agent3": "1003", "agent4": "1004"}
    for extension in agents.values():
        live.phones.start(extension, answer_ms=200)
    consoles = {login: await live.console(login, queues=("loadq",)) for login in agents}
    callers = [Caller(f"+86138{n:08d}", "8100", f"Caller {n}") for n in range(CALLS_PER_S * SECONDS)]
    async with live.pbx.probe("agent") as ami:
        customers = live.customers.place(callers, talk_ms=2000, rate=CALLS_PER_S)
        assert await customers.wait(within=SECONDS + 30) == 0, customers.log.read_text()[-2000:]
        await ami.until_no_channels(within=10)
        connected = {e["Linkedid"] for e in ami.seen("AgentConnect") if e.get("Queue") == "loadq"}
        # Counted, not matched: when the caller hangs up first Asterisk's AgentComplete names only
        # the agent's channel (DestLinkedid), sometimes no channel at all.
        completed = [e for e in ami.seen("AgentComplete") if e.get("Queue") == "loadq"]
    # Asterisk: every caller was connected to an agent, and each of those calls completed.
    assert len(connected) == len(callers) and len(completed) == len(callers)

    records = await live.calls()
    assert len(records) == len(callers) and {r.linkedid for r in records} == connected
    assert sorted(r.number for r in records) == sorted(c.number for c in callers)
    outcomes = collections.Counter(r.outcome for r in records)
    assert outcomes == {"answered": len(callers)}
    by_user = {live.user_id(login): login for login in agents}
    assert all(r.agent_id in by_user for r in records)
    # Each agent's console showed a live panel for exactly the calls the database gives them.
    for user_id, login in by_user.items():
        theirs = {r.linkedid for r in records if r.agent_id == user_id}
        await consoles[login].next("cti.call_panel", lambda d, t=theirs: d["state"] == "ended" and d["linkedid"] in t)
        shown = {d["linkedid"] for d in consoles[login].received("cti.call_panel", lambda d: d["state"] == "live")}
        assert shown == theirs, f"{login}: {len(shown)} panels for {len(theirs)} calls"
        popped = {d["linkedid"] for d in consoles[login].received("cti.pop")}
        assert theirs <= popped
