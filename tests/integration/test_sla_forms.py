"""SLA policies and business calendars edited as forms: only ops, values refused next to their
field, holidays imported from CSV and iCalendar files into the calendar stored in the database."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import aiohttp
from web_fixtures import StaffClient, WebSite

from alerts.keys import SLA
from alerts.settings import CalendarDefinition


async def post(client: StaffClient, path: str, data: dict[str, str], status: int = 303) -> str:
    answer = await client.http.post(path, data={"csrf_token": client.csrf_token or "", **data}, allow_redirects=False)
    text = await answer.text()
    assert answer.status == status, f"POST {path}: {answer.status} {text[:600]}"
    return text


async def definitions(client: StaffClient) -> dict[str, dict[str, dict[str, object]]]:
    data = await client.api("GET", "/api/v1/sla/policies")
    return {kind: {d["name"]: d for d in data[kind]} for kind in ("policies", "calendars")}


async def test_agents_cannot_use_the_sla_forms(site: WebSite) -> None:
    agent = await site.login("agent")
    for path in ("/admin/sla/policies/new", "/admin/sla/calendars/new"):
        assert (await agent.http.get(path)).status == 403
        answer = await agent.http.post(path, data={"csrf_token": agent.csrf_token or "", "name": "x",
                                                   "first_response_minutes": "5", "hours.mon": "09:00-17:00"})
        assert answer.status == 403, path


async def test_ops_write_a_policy_with_levels_in_the_form(site: WebSite) -> None:
    ops = await site.login("ops")
    await post(ops, "/admin/sla/calendars/new", {"name": "madrid", "timezone": "Europe/Madrid",
                                                 "hours.mon": "09:00-14:00, 15:00-18:00", "hours.fri": "09:00-15:00"})
    await post(ops, "/admin/sla/policies/new", {
        "name": "urgent-mail", "position": "5", "enabled": "1", "match.priority.urgent": "1", "match.priority.high": "1",
        "match.channel": "email", "calendar": "madrid", "first_response_minutes": "30", "resolution_minutes": "480",
        "levels.0.at": "80%", "levels.0.channels.email": "1", "levels.0.recipients": "assignee",
        "levels.1.at": "+0", "levels.1.channels.sms": "1", "levels.1.channels.email": "1",
        "levels.1.recipients": "supervisors, phone:+34600123456", "levels.1.subject": "Breach {{ ticket.number }}"})
    saved = (await definitions(ops))["policies"]["urgent-mail"]
    assert saved["match"]["priority"] == ["high", "urgent"] and saved["calendar"] == "madrid"
    assert saved["first_response_minutes"] == 30 and saved["next_response_minutes"] is None
    assert [lv["at"] for lv in saved["levels"]] == ["80%", "+0"]
    assert saved["levels"][1]["recipients"] == ["supervisors", "phone:+34600123456"]
    page = await ops.api("GET", "/admin/sla/policies/urgent-mail")
    assert 'value="80%"' in page and "phone:+34600123456" in page
    # Edit: the name stays, the target changes; the version goes up.
    await post(ops, "/admin/sla/policies/urgent-mail", {"position": "5", "enabled": "1", "calendar": "madrid",
                                                        "first_response_minutes": "45", "levels.0.at": "+0",
                                                        "levels.0.channels.email": "1", "levels.0.recipients": "assignee"})
    saved = (await definitions(ops))["policies"]["urgent-mail"]
    assert saved["first_response_minutes"] == 45 and saved["version"] == 2 and len(saved["levels"]) == 1


async def test_a_refused_policy_names_the_field_next_to_it(site: WebSite) -> None:
    ops = await site.login("ops")
    html = await post(ops, "/admin/sla/policies/new", {
        "name": "bad", "first_response_minutes": "-5", "levels.0.at": "soon", "levels.0.channels.email": "1",
        "levels.0.recipients": "assignee"}, status=400)
    assert 'id="levels-0-at-error"' in html and 'id="first_response_minutes-error"' in html, html
    assert 'value="soon"' in html  # what was typed stays
    html = await post(ops, "/admin/sla/policies/new", {"name": "bad", "first_response_minutes": "5", "levels.0.at": "+0",
                                                       "levels.0.recipients": "nobody-here"}, status=400)
    assert 'id="levels-0-recipients-error"' in html and 'id="levels-0-channels-error"' in html
    assert "bad" not in (await definitions(ops))["policies"]


async def test_holidays_are_imported_from_csv_and_icalendar_files(site: WebSite) -> None:
    ops = await site.login("ops")
    await post(ops, "/admin/sla/calendars/new", {"name": "shanghai", "timezone": "Asia/Shanghai",
                                                 "hours.mon": "09:00-18:00", "holidays": "2026-10-01"})

    async def upload(name: str, body: bytes, status: int = 303) -> str:
        data = aiohttp.FormData()
        for key, value in {"csrf_token": ops.csrf_token or "", "timezone": "Asia/Shanghai", "hours.mon": "09:00-18:00",
                           "holidays": "2026-10-01"}.items():
            data.add_field(key, value)
        data.add_field("holiday_file", body, filename=name, content_type="application/octet-stream")
        answer = await ops.http.post("/admin/sla/calendars/shanghai", data=data, allow_redirects=False)
        assert answer.status == status, await answer.text()
        return await answer.text()

    await upload("holidays.csv", b"date,name\n2026-10-02,National Day\n03/10/2026,National Day\n\n")
    cal = (await definitions(ops))["calendars"]["shanghai"]
    assert cal["holidays"] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    ics = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n"
           b"BEGIN:VEVENT\r\nDTSTART:20270210T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    await upload("cn.ics", ics)
    assert (await definitions(ops))["calendars"]["shanghai"]["holidays"] == ["2026-10-01", "2027-01-01", "2027-02-10"]
    refused = await upload("notes.csv", b"no dates here\n", status=400)
    assert 'id="holiday_file-error"' in refused
    bad = await post(ops, "/admin/sla/calendars/shanghai", {"hours.mon": "09:00-18:00", "holidays": "2026-13-40"}, status=400)
    assert 'id="holidays-error"' in bad
    bad = await post(ops, "/admin/sla/calendars/shanghai", {"hours.mon": "9 to 5"}, status=400)
    assert 'id="hours-error"' in bad


async def test_the_preview_shows_when_each_level_fires_and_what_it_says_without_saving(site: WebSite) -> None:
    ops = await site.login("ops")
    before = site.services.clock.now()
    html = await post(ops, "/admin/sla/policies/new", {
        "name": "preview-me", "position": "5", "enabled": "1", "first_response_minutes": "60",
        "levels.0.at": "80%", "levels.0.channels.email": "1", "levels.0.recipients": "assignee",
        "levels.0.subject": "Breach of {{ ticket.tag }}", "levels.0.template": "{{ ticket.subject }} is late",
        "levels.1.at": "+1h", "levels.1.channels.sms": "1", "levels.1.recipients": "supervisors",
        "preview": "1"}, status=200)
    assert 'id="sla-preview"' in html
    fires = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)" class="fires-at">', html)]
    assert len(fires) == 2
    assert abs((fires[0] - before) - timedelta(minutes=48)) < timedelta(minutes=1)
    assert abs((fires[1] - before) - timedelta(minutes=120)) < timedelta(minutes=1)
    assert "Breach of #1001" in html and "Pedido 42 is late" in html
    assert "preview-me" not in (await definitions(ops))["policies"]  # nothing saved
    refused = await post(ops, "/admin/sla/policies/new", {"name": "preview-me", "first_response_minutes": "60",
                                                          "levels.0.at": "later", "preview": "1"}, status=400)
    assert 'id="levels-0-at-error"' in refused


async def test_the_config_file_complements_calendars_edited_in_the_browser(site: WebSite) -> None:
    ops = await site.login("ops")
    await post(ops, "/admin/sla/calendars/office", {"hours.sat": "10:00-14:00", "holidays": "2026-12-25"})
    store = site.server.app[SLA].store
    store.settings.calendars = [CalendarDefinition(name="office"), CalendarDefinition(name="beijing", timezone="Asia/Shanghai")]
    async with site.services.db.transaction() as session:
        await store.seed(session)  # as at the next start
    calendars = (await definitions(ops))["calendars"]
    assert calendars["office"]["holidays"] == ["2026-12-25"] and list(calendars["office"]["hours"]) == ["sat"]
    assert calendars["beijing"]["timezone"] == "Asia/Shanghai"
