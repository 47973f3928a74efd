"""AMI injection: every console field that becomes an AMI header is refused with 400, naming
the field, before anything reaches the PBX (we count what the simulator received)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from cti_fixtures import until
from web_fixtures import StaffClient, WebSite

from core.records import User
from cti.plugin import CTI
from cti.simulator import AmiSimulator, QueueCall

# Header injection (CR, LF, NUL), dialplan argument splitting (comma, pipe, semicolon),
# and the Unicode line separators a careless decoder might pass.
HOSTILE = [
    "support\r\nAction: Hangup\r\nChannel: PJSIP/1002",
    "support\nAction: Originate",
    "support\x00",
    "support,1,PJSIP/1002",
    "support|x",
    "support;x",
    "sup port",
    "support\u2028Action: Hangup",
    "",
]
ACTIONS = ("QueueAdd", "QueueRemove", "QueuePause", "Originate", "Redirect", "Atxfer", "Hangup")


def sent(sim: AmiSimulator) -> dict[str, int]:
    return {name: sim.actions[name] for name in ACTIONS}


async def refused(client: StaffClient, path: str, body: dict[str, object], field: str) -> None:
    answer = await client.api("POST", path, json=body, status=400)
    assert answer["error"] == "invalid-input"
    assert answer["details"]["field"] == field, answer


@pytest.mark.parametrize("queue", [q for q in HOSTILE if q])
async def test_queue_names_with_separators_never_reach_the_pbx(phone_site: tuple[WebSite, AmiSimulator], queue: str) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    before = sent(sim)
    for action in ("login", "logout"):
        await refused(agent, f"/api/v1/cti/queues/{quote(queue, safe='')}/{action}", {}, "queue")
    assert sent(sim) == before


@pytest.mark.parametrize("reason", [*(r for r in HOSTILE if r and " " not in r), "x" * 81, "lunch, then\tcoffee"])
async def test_pause_reasons_with_separators_never_reach_the_pbx(phone_site: tuple[WebSite, AmiSimulator], reason: str) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    before = sent(sim)
    await refused(agent, "/api/v1/cti/status", {"state": "paused", "reason": reason}, "reason")
    assert sent(sim) == before
    # A reason in any language still works.
    await agent.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "午饭 lunch (back 13:00)"})
    assert sim.actions["QueuePause"] == before["QueuePause"] + 1


@pytest.mark.parametrize("number", ["+1415555\r\n0123", "1001,1002", "1001|1002", "1001\x00", "1001&PJSIP/1002"])
async def test_numbers_to_dial_with_separators_never_reach_the_pbx(phone_site: tuple[WebSite, AmiSimulator], number: str) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    await refused(agent, "/api/v1/cti/dial", {"number": number}, "number")
    assert sim.actions["Originate"] == 0


async def test_transfer_targets_with_separators_never_reach_the_pbx(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    call = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.1, talk_s=30)
    sim.spawn(sim.play(call.steps()))
    line = site.server.app[CTI].lines["sim"]
    await until(lambda: any(c.agent_channel for c in line.tracker.calls.values()))
    linkedid = next(iter(line.tracker.calls))
    for target in [t for t in HOSTILE if t]:
        for attended in (False, True):
            body = {"target": target, "attended": attended}
            await refused(agent, f"/api/v1/cti/calls/{linkedid}/transfer", body, "target")
    assert sim.actions["Redirect"] == 0 and sim.actions["Atxfer"] == 0


async def test_a_hostile_phone_interface_on_a_user_record_never_reaches_the_pbx(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    async with site.services.db.transaction() as session:
        user = await session.get(User, site.users["agent"].id)
        assert user is not None
        user.pbx_interface = "PJSIP/1001\r\nAction: Originate\r\nChannel: PJSIP/1002"
    await site.server.app[CTI].directory.reload()
    before = sent(sim)
    await refused(agent, "/api/v1/cti/dial", {"number": "+14155550123"}, "interface")
    await refused(agent, "/api/v1/cti/queues/sales/login", {}, "interface")
    await refused(agent, "/api/v1/cti/queues/sales/logout", {}, "interface")
    await refused(agent, "/api/v1/cti/status", {"state": "ready"}, "interface")
    assert sent(sim) == before


async def test_a_hostile_channel_name_is_not_sent_to_hang_up(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    call = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.1, talk_s=30)
    sim.spawn(sim.play(call.steps()))
    line = site.server.app[CTI].lines["sim"]
    await until(lambda: any(c.agent_channel for c in line.tracker.calls.values()))
    tracked = next(iter(line.tracker.calls.values()))
    tracked.agent_channel = "PJSIP/1001-0001,PJSIP/1002"  # as if the PBX had been fooled
    await refused(agent, f"/api/v1/cti/calls/{tracked.linkedid}/hangup", {}, "channel")
    assert sim.actions["Hangup"] == 0
