"""A call on a ticket's timeline names the agent as people know them, never ``PJSIP/1002``."""

from __future__ import annotations

from test_cti_console import next_event, ws_of
from web_fixtures import WebSite

from core.records import EntryKind
from cti.plugin import CTI
from cti.simulator import AmiSimulator, QueueCall


async def test_the_timeline_names_the_agent_who_took_the_call(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent2 = await site.login("agent2")
    ws = await ws_of(agent2)
    sim.spawn(sim.play(QueueCall("+14155550123", ring=["PJSIP/1002"], answered_by="PJSIP/1002", ring_s=0.1, talk_s=0.2).steps()))
    while not (recorded := await next_event(ws, "cti.call_recorded"))["ended"]:
        pass
    await site.server.app[CTI].idle()
    ticket_id = recorded["ticket_id"]
    # An older entry of a phone nobody sits at, and a transfer between two agents.
    async with site.services.db.session() as session:
        await site.services.desk.append(session, ticket_id, EntryKind.CALL, {"caller": "+14155550123", "agent": "PJSIP/1009", "outcome": "no-answer"})
        await site.services.desk.append(session, ticket_id, EntryKind.CALL, {
            "caller": "+14155550123", "agent": "PJSIP/1002", "outcome": "answered",
            "segments": [{"agent": "PJSIP/1001", "agent_id": site.users["agent"].id, "talk_s": 5}, {"agent": "PJSIP/1002", "agent_id": None, "talk_s": 7}]})
        await session.commit()
    page = await agent2.api("GET", f"/tickets/{ticket_id}")
    assert "PJSIP/" not in page
    assert page.count('<span class="call-agent">Agent2</span>') == 2
    assert "extension 1009" in page and "Agent 1:" not in page
    assert '<span class="call-segment">Agent 0:05</span>' in page and '<span class="call-segment">Agent2 0:07</span>' in page
    await agent2.api("POST", "/preferences/language", data={"language": "zh_CN", "next": "/queue"})
    page = await agent2.api("GET", f"/tickets/{ticket_id}/timeline")
    assert "分机 1009" in page and "PJSIP/" not in page
