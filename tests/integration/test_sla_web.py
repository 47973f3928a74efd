"""The SLA in the web: the clock on the ticket page, one-click acknowledge, the supervisors'
alerts log, the ops' policy editor, and ACK by SMS through the signed gateway webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from web_fixtures import StaffClient, WebSite

from alerts.keys import SLA
from alerts.sms.inbound import signed_headers
from config.settings import Settings, load_settings
from core.clock import ManualClock
from core.records import EntryKind, User
from routing import Contact

MOBILE = "+8613800138000"
MONDAY_10_SHANGHAI = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_10_SHANGHAI)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai",
                         sla={"sms": {"inbound_secret": "s3cret"}})


async def form_post(client: StaffClient, path: str, **fields: str) -> tuple[int, str]:
    response = await client.http.post(path, data={"csrf_token": client.csrf_token or "", **fields}, allow_redirects=False)
    return response.status, await response.text()


async def breached_ticket(site: WebSite, clock: ManualClock) -> int:
    async with site.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == "agent").values(mobile=MOBILE, email="agent@example.com"))
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(
            session, Contact("email", None, subject="Order late"), EntryKind.EMAIL_IN, {"text": "late"}
        )
        accepted.ticket.assignee_id = site.users["agent"].id
        await site.services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=1, hours=3, minutes=30))  # Tuesday 13:30 local: 12 business hours were at 13:00
    parts = site.server.app[SLA]  # type: ignore[index]
    while await parts.scanner.scan_once():
        pass
    return accepted.ticket.id


async def test_the_ticket_page_shows_the_clock_and_acknowledging_stops_the_ladder(site: WebSite, clock: ManualClock) -> None:
    ticket_id = await breached_ticket(site, clock)
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    assert 'id="sla-clock"' in page and "/static/alerts.js" in page
    assert f'action="/tickets/{ticket_id}/sla/ack"' in page
    sla = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/sla")
    first = next(t for t in sla["targets"] if t["target"] == "first_response")
    assert sla["policy"] == "email" and sla["business_time"] and first["breached"]
    assert first["business_seconds_left"] == -30 * 60
    assert sla["can_acknowledge"]

    status, _ = await form_post(agent, f"/tickets/{ticket_id}/sla/ack")
    assert status == 303
    sla = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/sla")
    assert not sla["can_acknowledge"] and all(t["acknowledged"] for t in sla["targets"])
    assert sla["next_step_at"] is None
    timeline = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline")
    assert any(e["payload"].get("event") == "acknowledged" for e in timeline["entries"])

    await agent.api("GET", "/api/v1/alerts", status=403)
    supervisor = await site.login("supervisor")
    log = await supervisor.api("GET", "/api/v1/alerts")
    assert {a["level"] for a in log["alerts"]} == {1, 2} and all(a["acknowledged_via"] == "web" for a in log["alerts"])
    page = await supervisor.api("GET", "/alerts")
    assert "#1001" in page or f"#{ticket_id + 1000}" in page


async def test_ack_by_sms_needs_the_gateway_signature(site: WebSite, clock: ManualClock) -> None:
    ticket_id = await breached_ticket(site, clock)
    anon = await site.anonymous()
    body = json.dumps({"from": MOBILE, "text": "ACK"}).encode()
    headers = {"Content-Type": "application/json"}
    await anon.api("POST", "/api/v1/sms/inbound", data=body, headers=headers, status=401)
    await anon.api("POST", "/api/v1/sms/inbound", data=body,
                   headers={**headers, **signed_headers("wrong", body, clock.now())}, status=401)
    result = await anon.api("POST", "/api/v1/sms/inbound", data=body,
                            headers={**headers, **signed_headers("s3cret", body, clock.now())})
    assert result == {"acknowledged": True, "ticket_id": ticket_id, "escalations": 2}
    stranger = json.dumps({"from": "+8613911112222", "text": "ACK"}).encode()
    await anon.api("POST", "/api/v1/sms/inbound", data=stranger,
                   headers={**headers, **signed_headers("s3cret", stranger, clock.now())}, status=403)


async def test_ops_edit_policies_and_others_cannot(site: WebSite) -> None:
    ops = await site.login("ops")
    agent = await site.login("agent")
    policies = await ops.api("GET", "/api/v1/sla/policies")
    assert [p["name"] for p in policies["policies"]] == ["callback", "email", "default"]
    vip = {"position": 20, "match": {"channel": ["email"], "tier": ["vip"]}, "calendar": "office",
           "first_response_minutes": 120, "levels": [{"at": "+0", "channels": ["sms"], "recipients": ["supervisors"]}]}
    await agent.api("PUT", "/api/v1/sla/policies/vip", json=vip, status=403)
    saved = await ops.api("PUT", "/api/v1/sla/policies/vip", json=vip)
    assert saved["name"] == "vip" and saved["version"] == 1
    await ops.api("PUT", "/api/v1/sla/policies/bad", json={**vip, "levels": [{"at": "soon"}]}, status=400)

    page = await ops.api("GET", "/admin/sla")
    assert "first_response_minutes: 120" in page
    status, _ = await form_post(ops, "/admin/sla", kind="calendar",
                                definition="name: weekend\ntimezone: Europe/Berlin\nhours: {sat: ['10:00-14:00']}\n")
    assert status == 303
    calendars = (await ops.api("GET", "/api/v1/sla/policies"))["calendars"]
    assert "weekend" in {c["name"] for c in calendars}
    status, page = await form_post(ops, "/admin/sla", kind="policy", definition="name: [unclosed")
    assert status == 400
    await ops.api("DELETE", "/api/v1/sla/policies/vip")
    await ops.api("DELETE", "/api/v1/sla/policies/vip", status=404)


async def test_the_alerts_log_shows_words_not_codes_in_spanish(site: WebSite, clock: ManualClock) -> None:
    ticket_id = await breached_ticket(site, clock)
    agent = await site.login("agent")
    await form_post(agent, f"/tickets/{ticket_id}/sla/ack")
    supervisor = await site.login("supervisor")
    await form_post(supervisor, "/preferences/language", language="es", next="/alerts")
    page = await supervisor.api("GET", "/alerts")
    assert "Alertas de SLA" in page and "Primera respuesta" in page and "incumplido" in page
    assert "first_response" not in page.split("<main>", 1)[1]
