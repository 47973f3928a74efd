"""Acting on another agent's call: an agent may hang up, transfer or log out only their own
calls and queue memberships; nothing reaches the PBX when refused (issue 10, regression suite)."""

from __future__ import annotations

from cti_fixtures import until
from web_fixtures import StaffClient, WebSite

from cti.plugin import CTI
from cti.simulator import AmiSimulator, QueueCall

COMMANDS = ("Hangup", "Redirect", "Atxfer", "CancelAtxfer", "QueueAdd", "QueueRemove")


def commands_sent(sim: AmiSimulator) -> dict[str, int]:
    return {name: sim.actions[name] for name in COMMANDS}


async def alices_live_call(site: WebSite, sim: AmiSimulator) -> str:
    """A customer's call answered by ``agent`` (PJSIP/1001) that stays up for the test."""
    call = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.05, talk_s=60)
    sim.spawn(sim.play(call.steps()))
    tracker = site.server.app[CTI].lines["sim"].tracker
    owner = site.users["agent"].id
    await until(lambda: any(c.agent_user_id == owner and c.agent_channel for c in tracker.calls.values()))
    return next(linkedid for linkedid, c in tracker.calls.items() if c.agent_user_id == owner)


async def attack(client: StaffClient, linkedid: str) -> None:
    for path, body in ((f"/api/v1/cti/calls/{linkedid}/hangup", {}),
                       (f"/api/v1/cti/calls/{linkedid}/transfer", {"target": "1002"}),
                       (f"/api/v1/cti/calls/{linkedid}/transfer", {"target": "1002", "attended": True}),
                       (f"/api/v1/cti/calls/{linkedid}/transfer", {"target": "9999", "pbx": "sim"}),
                       (f"/api/v1/cti/calls/{linkedid}/transfer/cancel", {})):
        refused = await client.api("POST", path, json=body, status=403)
        assert refused["error"] == "forbidden"


async def test_another_agent_cannot_hang_up_or_transfer_my_call(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    linkedid = await alices_live_call(site, sim)
    before = commands_sent(sim)
    await attack(await site.login("agent2"), linkedid)
    await attack(await site.token_client("agent2"), linkedid)  # an API token carries the same limits
    await attack(await site.login("ops"), linkedid)  # ops run the system, they do not take calls
    assert commands_sent(sim) == before, "a refused command reached the PBX"
    tracker = site.server.app[CTI].lines["sim"].tracker
    assert tracker.calls[linkedid].agent_user_id == site.users["agent"].id  # still Alice's, still up
    # The owner can: the refusals above were about ownership, not a broken command.
    owner = await site.login("agent")
    await owner.api("POST", f"/api/v1/cti/calls/{linkedid}/hangup", json={})
    assert sim.actions["Hangup"] == before["Hangup"] + 1


async def test_a_supervisor_may_act_on_an_agents_call(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    linkedid = await alices_live_call(site, sim)
    supervisor = await site.login("supervisor")
    await supervisor.api("POST", f"/api/v1/cti/calls/{linkedid}/transfer", json={"target": "1002"})
    assert sim.actions["Redirect"] == 1


async def test_another_agent_cannot_log_me_in_or_out_of_a_queue(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent2 = await site.login("agent2")
    before = commands_sent(sim)
    for action in ("login", "logout"):
        refused = await agent2.api("POST", f"/api/v1/cti/queues/sales/{action}",
                                   json={"user_id": site.users["agent"].id}, status=403)
        assert refused["error"] == "forbidden"
    assert commands_sent(sim) == before


async def test_a_made_up_call_id_is_not_found_and_sends_nothing(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    before = commands_sent(sim)
    for linkedid in ("1700000000.1", "..%2F..", "x" * 300, "1;Action: Originate"):
        response = await agent.http.post(f"/api/v1/cti/calls/{linkedid}/hangup", json={},
                                         headers={"X-CSRF-Token": agent.csrf_token or ""})
        assert response.status in (400, 404), linkedid
    assert commands_sent(sim) == before
