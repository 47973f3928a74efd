"""Lone surrogates: text that is not valid Unicode must never be stored from the web edge,
and text already stored with one must never take a page down (issue 10, finding 5)."""

from __future__ import annotations

from typing import Any

from web_fixtures import StaffClient, WebSite

from core.records import EntryKind, TimelineEntry

SURROGATE = "\ud800"


async def a_ticket(agent: StaffClient) -> int:
    body = await agent.api("POST", "/api/v1/tickets", json={"subject": "printer on fire"}, status=201)
    return int(body["ticket"]["id"])


def no_surrogate_anywhere(value: Any) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return all(no_surrogate_anywhere(k) and no_surrogate_anywhere(v) for k, v in value.items())
    if isinstance(value, list):
        return all(no_surrogate_anywhere(v) for v in value)
    return True


async def test_the_issues_note_is_refused_and_the_ticket_page_keeps_working(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    # aiohttp's client writes the JSON escape "\ud800", exactly what the attacker sent
    refused = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/notes", json={"text": f"{SURROGATE} x"}, status=400)
    assert refused["details"]["field"] == "text"
    timeline = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline")
    assert no_surrogate_anywhere(timeline)
    assert not [e for e in timeline["entries"] if e["payload"].get("text", "").endswith(" x")]
    response = await agent.http.get(f"/tickets/{ticket_id}")
    assert response.status == 200


async def test_a_surrogate_in_any_field_key_or_nested_value_is_refused_with_its_name(site: WebSite) -> None:
    agent = await site.login("agent")
    ops = await site.login("ops")
    ticket_id = await a_ticket(agent)
    attacks: list[tuple[StaffClient, str, str, Any, str]] = [
        (agent, "POST", "/api/v1/tickets", {"subject": f"hi {SURROGATE}"}, "subject"),
        (agent, "PATCH", f"/api/v1/tickets/{ticket_id}", {"subject": SURROGATE}, "subject"),
        (agent, "POST", "/api/v1/customers", {"name": "Ann", "tags": ["ok", SURROGATE]}, "tags[1]"),
        (agent, "POST", "/api/v1/customers", {"name": "Ann", SURROGATE: 1}, SURROGATE),
        (agent, "POST", f"/api/v1/tickets/{ticket_id}/replies", {"body": f"x{SURROGATE}"}, "body"),
        (ops, "POST", "/api/v1/templates", {"name": "t", "body": "b", "keywords": [{"phrase": SURROGATE}]},
         "keywords[0].phrase"),
        (ops, "PUT", "/api/v1/sla/policies/p", {"levels": [{"message": SURROGATE}]}, "levels[0].message"),
    ]
    for client, method, path, body, field in attacks:
        refused = await client.api(method, path, json=body, status=400)
        assert refused["details"]["field"] == field, (path, refused)
    customers = await agent.api("GET", "/api/v1/customers?q=Ann")
    assert customers["customers"] == []
    ticket = await agent.api("GET", f"/api/v1/tickets/{ticket_id}")
    assert ticket["ticket"]["subject"] == "printer on fire"


async def test_invalid_utf8_in_a_form_or_query_never_becomes_a_stored_surrogate(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    response = await agent.http.post(
        f"/tickets/{ticket_id}/note",
        data=f"text=%ED%A0%80+x&csrf_token={agent.csrf_token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert response.status in (303, 400)
    timeline = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline")
    assert no_surrogate_anywhere(timeline)
    for path in ("/api/v1/customers?q=%ED%A0%80", "/api/v1/tickets?queue=%ED%A0%80", "/queue?queue=%ED%A0%80",
                 "/help?q=%ED%A0%80"):
        answer = await agent.http.get(path)
        assert answer.status == 200, path
    assert (await agent.http.get(f"/tickets/{ticket_id}")).status == 200


async def test_a_surrogate_already_in_the_database_never_takes_a_page_down(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    # Written as an older release (or another path into the database) would have stored it.
    async with site.services.db.transaction() as session:
        session.add(TimelineEntry(ticket_id=ticket_id, kind=EntryKind.NOTE.value, author_id=site.users["agent"].id,
                                  payload={"text": f"left by {SURROGATE} an old release"}))
    page = await agent.http.get(f"/tickets/{ticket_id}")
    assert page.status == 200
    assert "left by \ufffd an old release" in await page.text()
    fragment = await agent.http.get(f"/tickets/{ticket_id}/timeline")
    assert fragment.status == 200
    timeline = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline")
    assert any("an old release" in e["payload"].get("text", "") for e in timeline["entries"])
    supervisor = await site.login("supervisor")
    assert (await supervisor.http.get(f"/tickets/{ticket_id}")).status == 200


async def test_invalid_utf8_in_a_multipart_form_is_a_400_not_a_crash(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket_id = await a_ticket(agent)
    for token_in_form in (True, False):  # read by the CSRF check, or by the handler
        body = b'--XX\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xed\xa0\x80 x\r\n'
        if token_in_form:
            body += b'--XX\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + (agent.csrf_token or "").encode() + b"\r\n"
        headers = {"Content-Type": "multipart/form-data; boundary=XX"}
        if not token_in_form:
            headers["X-CSRF-Token"] = agent.csrf_token or ""
        response = await agent.http.post(f"/tickets/{ticket_id}/note", data=body + b"--XX--\r\n", headers=headers,
                                         allow_redirects=False)
        assert response.status == 400
    timeline = await agent.api("GET", f"/api/v1/tickets/{ticket_id}/timeline")
    assert not [e for e in timeline["entries"] if e["payload"].get("text", "").endswith(" x")]
