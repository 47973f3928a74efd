"""The console's recent calls: a pop the agent did not answer stays, with what came of it,
the call's ticket and a call-back button; served from the call records (a reload keeps it)."""

from __future__ import annotations

from sqlalchemy import select
from test_cti_console import next_event, ws_of
from web_fixtures import WebSite

from cti.plugin import CTI
from cti.records import CallOffer, CallRecord
from cti.simulator import AmiSimulator, QueueCall


async def test_a_missed_pop_stays_in_recent_calls_with_its_ticket_and_a_call_back(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent, agent2 = await site.login("agent"), await site.login("agent2")
    ws1, ws2 = await ws_of(agent), await ws_of(agent2)
    # It rings both phones; Agent2 answers: for Agent it is a call a colleague took.
    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001", "PJSIP/1002"], answered_by="PJSIP/1002", ring_s=0.2, talk_s=0.2)
    sim.spawn(sim.play(call.steps()))
    pop = await next_event(ws1, "cti.pop")
    recorded = await next_event(ws1, "cti.call_recorded")  # the pop learns the call's ticket
    assert recorded["linkedid"] == pop["linkedid"] and recorded["ticket_id"] and recorded["ticket_tag"].startswith("#")
    await next_event(ws2, "cti.call_panel")
    # Nobody answers this one: Agent's pop is withdrawn, the call is missed.
    missed = QueueCall("+14155550199", ring=["PJSIP/1001"], answered_by=None, ring_s=0.2, abandon_s=0.4)
    sim.spawn(sim.play(missed.steps()))
    pop2 = await next_event(ws1, "cti.pop")
    await next_event(ws1, "cti.pop_withdrawn")
    while (ended := await next_event(ws1, "cti.call_recorded"))["linkedid"] != pop2["linkedid"] or not ended["ended"]:
        pass
    await site.server.app[CTI].idle()

    html = await agent.api("GET", "/console/recent-calls")  # what a reload shows
    first, second = html.split('class="cti-recent-call ')[1:3]
    assert 'data-outcome="abandoned"' in first and "the caller hung up" in first and 'data-e164="+14155550199"' in first
    assert "Call back" in first and "/tickets/" in first
    assert 'data-outcome="answered-by-colleague"' in second and "Agent2" in second and "Zhang Wei" in second
    assert f'/tickets/{recorded["ticket_id"]}' in second
    # Agent2 answered it: theirs says so. Supervisor's phone never rang: nothing.
    assert "answered by me" in await agent2.api("GET", "/console/recent-calls")
    supervisor = await site.login("supervisor")
    assert "No calls yet." in await supervisor.api("GET", "/console/recent-calls")
    async with site.services.db.session() as session:
        offers = (await session.execute(select(CallOffer.user_id, CallRecord.linkedid).join(CallRecord))).all()
    assert sorted(offers) == sorted([(site.users["agent"].id, pop["linkedid"]), (site.users["agent2"].id, pop["linkedid"]),
                                     (site.users["agent"].id, pop2["linkedid"])])


async def test_recent_calls_in_chinese(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    agent = await site.login("agent")
    await agent.api("POST", "/preferences/language", data={"language": "zh_CN", "csrf_token": agent.csrf_token}, status=None)
    ws = await ws_of(agent)
    sim.spawn(sim.play(QueueCall("+14155550100", ring=["PJSIP/1001"], answered_by=None, ring_s=0.1, abandon_s=0.2).steps()))
    await next_event(ws, "cti.pop")
    while not (await next_event(ws, "cti.call_recorded"))["ended"]:
        pass
    html = await agent.api("GET", "/console/recent-calls")
    assert "回拨" in html and "来电者已挂断" in html
