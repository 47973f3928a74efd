"""Masking by role: with agents masked, an agent sees +86 138 **** 8000 and z***@example.com on
the customer and ticket pages, in the API and in the screen-pop, and can still dial the
customer; a supervisor sees the full values."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from web_fixtures import StaffClient, WebSite

from core.records import Customer, CustomerEmail, CustomerPhone, Ticket, TimelineEntry
from cti.scenarios import QueueCall
from cti.simulator import AmiSimulator
from privacy import PRIVACY_POLICY

PHONE, SHOWN = "+8613800138000", "+86 138 **** 8000"
EMAIL, SHOWN_EMAIL = "zhang@example.com", "z***@example.com"


async def _seed(site: WebSite) -> tuple[int, int, int]:
    async with site.services.db.transaction() as session:
        customer = Customer(name="Zhang Wei")
        customer.phones.append(CustomerPhone(e164=PHONE))
        customer.emails.append(CustomerEmail(address=EMAIL))
        session.add(customer)
        await session.flush()
        ticket = Ticket(subject="Router", channel="voice", queue="support", customer_id=customer.id)
        session.add(ticket)
        await session.flush()
        session.add(TimelineEntry(ticket_id=ticket.id, kind="email_in",
                                  payload={"from": EMAIL, "subject": "Router", "text": "It blinks"}))
        return customer.id, ticket.id, customer.phones[0].id


async def _mask_agents(site: WebSite) -> None:
    admin = await site.login("admin")
    response = await admin.http.post("/admin/privacy", data={"csrf_token": admin.csrf_token or "", "mask_agent": "1"},
                                     allow_redirects=False)
    assert response.status == 303
    assert site.server.app[PRIVACY_POLICY].current.masked_roles == {"agent"}


async def _event(ws: ClientWebSocketResponse, name: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["event"] == name:
                return dict(message["data"])


async def _ws(client: StaffClient) -> ClientWebSocketResponse:
    ws = await client.http.ws_connect("/ws")
    await asyncio.sleep(0.05)
    return ws


async def test_agents_see_masked_contacts_everywhere_and_still_dial(phone_site: tuple[WebSite, AmiSimulator]) -> None:
    site, sim = phone_site
    customer_id, ticket_id, phone_id = await _seed(site)
    agent, supervisor = await site.login("agent"), await site.login("supervisor")
    before = await agent.api("GET", f"/api/v1/customers/{customer_id}")
    assert before["customer"]["phones"] == [PHONE]  # nobody is masked until an admin says so
    await _mask_agents(site)

    for path in (f"/customers/{customer_id}", f"/tickets/{ticket_id}", "/customers?q=Zhang"):
        page = await agent.api("GET", path)
        page = page if isinstance(page, str) else json.dumps(page)
        assert "8000" in page or ("timeline" in path and "13800138000" not in page and "0013" not in page), path
        assert EMAIL not in page, path
    page = await agent.api("GET", f"/customers/{customer_id}")
    assert SHOWN in page and SHOWN_EMAIL in page and f'data-phone-id="{phone_id}"' in page
    full = await supervisor.api("GET", f"/customers/{customer_id}")
    assert PHONE in full and EMAIL in full
    entries = (await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline"))["entries"]
    assert [e["payload"]["from"] for e in entries if e["kind"] == "email_in"] == [SHOWN_EMAIL]
    hits = (await agent.api("GET", "/api/v1/search?type=customers&q=Zhang"))["results"]
    assert hits[0]["record"]["phones"] == [SHOWN] and hits[0]["record"]["emails"] == [SHOWN_EMAIL]

    api = (await agent.api("GET", f"/api/v1/customers/{customer_id}"))["customer"]
    assert (api["phones"], api["emails"]) == ([SHOWN], [SHOWN_EMAIL])
    found = (await agent.api("GET", "/api/v1/customers?q=Zhang"))["customers"]
    assert found[0]["phones"] == [SHOWN]
    assert (await supervisor.api("GET", f"/api/v1/customers/{customer_id}"))["customer"]["phones"] == [PHONE]

    # the pop: masked for the agent
    ws = await _ws(agent)
    call = QueueCall(PHONE, "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.3, talk_s=0.3)
    sim.spawn(sim.play(call.steps()))
    pop = (await _event(ws, "cti.pop"))["pop"]
    assert pop["number"] == SHOWN and pop["number_display"] == SHOWN and pop["customer"]["id"] == customer_id
    assert PHONE not in json.dumps(pop) and "0013" not in json.dumps(pop)
    await _event(ws, "cti.call_panel")

    # click-to-dial by the phone's id: the server dials the full number the agent never saw
    originates = sim.actions["Originate"]
    result = await agent.api("POST", "/api/v1/cti/dial", json={"phone_id": phone_id})
    assert result["ok"] and sim.actions["Originate"] == originates + 1 and result["number"] == SHOWN
    refused = await agent.api("POST", "/api/v1/cti/dial", json={"phone_id": 999999}, status=404)
    await agent.api("POST", "/api/v1/cti/dial", json={"phone_id": 2**40}, status=404)
    assert refused["details"]["field"] == "phone_id"
    bad = await agent.api("POST", "/api/v1/cti/dial", json={"phone_id": "x"}, status=400)
    assert bad["details"]["field"] == "phone_id"
