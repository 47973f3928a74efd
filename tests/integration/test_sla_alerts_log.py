"""The SLA alerts page (issue 14): filters (level, channel, status, dates, ticket), acknowledge
from the log, paging, and no rows for levels that notified nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from web_fixtures import StaffClient, WebSite

from alerts.keys import SLA
from alerts.log_query import AlertFilter
from alerts.records import Escalation
from config.settings import Settings, load_settings
from core.auth import Actor
from core.clock import ManualClock
from core.records import EntryKind, OutboxMessage, User
from routing import Contact

MOBILE = "+8613800138000"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai")


async def _tickets(site: WebSite, clock: ManualClock) -> tuple[int, int, int]:
    """Two tickets of an agent with a phone and an email (their levels notify them) and one
    of an agent with neither (its levels notify nobody); all past the SLA on Tuesday afternoon."""
    async with site.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == "agent").values(mobile=MOBILE, email="agent@example.com"))
    ids = []
    async with site.services.db.session() as session:
        for subject, owned in (("Order late", True), ("Refund", True), ("Nobody's", False)):
            accepted = await site.services.desk.accept(
                session, Contact("email", None, subject=subject), EntryKind.EMAIL_IN, {"text": subject})
            accepted.ticket.assignee_id = site.users["agent" if owned else "agent2"].id
            ids.append(accepted.ticket.id)
        await site.services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=1, hours=3, minutes=30))
    parts = site.server.app[SLA]  # type: ignore[index]
    while await parts.scanner.scan_once():
        pass
    return ids[0], ids[1], ids[2]


async def _log(client: StaffClient, **query: str) -> str:
    response = await client.http.get("/alerts", params=query)
    assert response.status == 200, await response.text()
    return await response.text()


def _rows(page: str) -> int:
    return page.count("data-alert=")


async def test_levels_that_notified_nobody_are_left_out(site: WebSite, clock: ManualClock) -> None:
    first, second, nobodys = await _tickets(site, clock)
    async with site.services.db.session() as session:
        fired = list((await session.execute(select(Escalation.ticket_id))).scalars())
    assert nobodys in fired  # the ladder did fire for it ...
    supervisor = await site.login("supervisor")
    api = await supervisor.api("GET", "/api/v1/alerts")
    assert {a["ticket_id"] for a in api["alerts"]} == {first, second}  # ... but the log does not show it
    assert all(a["recipients"] for a in api["alerts"])
    page = await _log(supervisor)
    assert f"#{nobodys + 1000}" not in page and _rows(page) == len(api["alerts"]) == 4


async def test_filters_by_ticket_level_channel_status_and_dates(site: WebSite, clock: ManualClock) -> None:
    first, second, _ = await _tickets(site, clock)
    supervisor = await site.login("supervisor")
    assert _rows(await _log(supervisor, ticket=f"#{first + 1000}")) == 2
    assert _rows(await _log(supervisor, ticket="999999")) == 0
    level_two = await _log(supervisor, level="2")
    assert _rows(level_two) == 2 and 'value="2"' in level_two
    assert _rows(await _log(supervisor, channel="sms")) == 2  # level 2 texts, level 1 emails
    assert _rows(await _log(supervisor, channel="email")) == 2
    async with site.services.db.transaction() as session:  # the delivery results, pinned
        for ticket_id, status in ((first, "sent"), (second, "failed")):
            await session.execute(update(OutboxMessage).where(OutboxMessage.dedup_key.startswith(f"sla:{ticket_id}:"))
                                  .values(status=status))
    failed = await _log(supervisor, status="failed")
    assert _rows(failed) == 2 and f"#{second + 1000}" in failed and f"#{first + 1000}" not in failed
    sent = await _log(supervisor, status="sent")
    assert _rows(sent) == 2 and f"#{first + 1000}" in sent
    today = "2026-01-06"  # Tuesday in Shanghai, when the levels fired
    assert _rows(await _log(supervisor, **{"from": today, "to": today})) == 4
    assert _rows(await _log(supervisor, **{"from": "2026-01-07"})) == 0
    assert _rows(await _log(supervisor, to="2026-01-05")) == 0
    for bad in ({"status": "lost"}, {"channel": "fax"}, {"from": "yesterday"}, {"level": "two"}):
        response = await supervisor.http.get("/alerts", params=bad)
        assert response.status == 400, bad


async def test_acknowledge_from_the_log_comes_back_to_the_same_view(site: WebSite, clock: ManualClock) -> None:
    first, second, _ = await _tickets(site, clock)
    supervisor = await site.login("supervisor")
    page = await _log(supervisor, status="open")
    assert page.count(">Acknowledge</button>") == 4
    response = await supervisor.http.post(
        f"/tickets/{first}/sla/ack", data={"csrf_token": supervisor.csrf_token or "", "next": "/alerts?status=open"},
        allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/alerts?status=open"
    still_open = await _log(supervisor, status="open")
    assert _rows(still_open) == 2 and f"#{first + 1000}" not in still_open
    acknowledged = await _log(supervisor, status="acknowledged")
    assert _rows(acknowledged) == 2 and f"#{second + 1000}" not in acknowledged
    assert ">Acknowledge</button>" not in acknowledged
    response = await supervisor.http.post(
        f"/tickets/{second}/sla/ack", data={"csrf_token": supervisor.csrf_token or "", "next": "//evil.example/"},
        allow_redirects=False)
    assert response.status == 303 and not response.headers["Location"].startswith("//")


async def test_pages_follow_one_another(site: WebSite, clock: ManualClock) -> None:
    await _tickets(site, clock)
    service = site.server.app[SLA].service  # type: ignore[index]
    seen: list[int] = []
    async with site.services.db.session() as session:
        for number in (1, 2, 3, 4):
            page = await service.alerts_page(session, Actor.system(), AlertFilter(), page=number, page_size=1)
            assert page.has_next == (number < 4)
            seen += [a["id"] for a in page.rows]
        assert not (await service.alerts_page(session, Actor.system(), AlertFilter(), page=5, page_size=1)).rows
    assert len(set(seen)) == 4
    supervisor = await site.login("supervisor")
    first = await _log(supervisor, status="open")
    assert 'rel="next"' not in first and 'rel="prev"' not in first
    second = await _log(supervisor, status="open", page="2")
    assert _rows(second) == 0 and 'rel="prev"' in second and "status=open" in second


async def test_the_api_takes_the_same_filters_and_pages(site: WebSite, clock: ManualClock) -> None:
    first, _, _ = await _tickets(site, clock)
    supervisor = await site.login("supervisor")
    one = await supervisor.api("GET", "/api/v1/alerts?limit=3")
    assert len(one["alerts"]) == 3 and one["page"] == 1 and one["has_next"]
    two = await supervisor.api("GET", "/api/v1/alerts?limit=3&page=2")
    assert len(two["alerts"]) == 1 and not two["has_next"]
    assert not {a["id"] for a in one["alerts"]} & {a["id"] for a in two["alerts"]}
    mine = await supervisor.api("GET", f"/api/v1/alerts?ticket={first + 1000}&level=1")
    assert [(a["ticket_id"], a["level"]) for a in mine["alerts"]] == [(first, 1)]
    await supervisor.api("GET", "/api/v1/alerts?status=lost", status=400)
    for bad in ("level=0", "level=100", "page=0", "page=99999999999"):
        await supervisor.api("GET", f"/api/v1/alerts?{bad}", status=400)
    assert (await supervisor.api("GET", "/api/v1/alerts?ticket=99999999999999"))["alerts"] == []
