"""Supervisor reports: per agent, per category, SLA compliance; date range; CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from web_fixtures import WebSite

from alerts.records import Escalation
from core.clock import ManualClock
from core.records import Ticket, TimelineEntry
from cti.records import CallRecord, CallSegment

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


async def seed(site: WebSite) -> None:
    agent, agent2 = site.users["agent"].id, site.users["agent2"].id
    async with site.services.db.transaction() as session:
        for n, (who, talk, answered) in enumerate([(agent, 60.0, ago(2)), (agent, 120.0, ago(30)), (agent2, 30.0, ago(3)),
                                                   (agent, 999.0, ago(24 * 30))]):  # the last is long before the range
            session.add(CallRecord(pbx="pbx", linkedid=f"c{n}", direction="inbound", queue="support", agent_id=who,
                                   started_at=answered, answered_at=answered, ended_at=answered, talk_s=talk, outcome="answered"))
        tickets = [  # (category, status, created, first response after (h), assignee, policy, breached)
            ("complaint", "open", ago(10), 1.0, agent, "email", True),
            ("complaint", "solved", ago(20), 3.0, agent, "email", False),
            ("inquiry", "new", ago(5), None, None, "email", False),
            ("suggestion", "solved", ago(50), 0.5, agent2, "vip", False),
            ("complaint", "open", ago(24 * 40), 1.0, agent, "email", True),  # outside the range
        ]
        rows = []
        for category, status, created, first, assignee, policy, _ in tickets:
            rows.append(Ticket(subject="s", channel="email", queue="support", category=category, status=status,
                               created_at=created, assignee_id=assignee, sla_policy=policy,
                               first_response_at=created + timedelta(hours=first) if first is not None else None))
        session.add_all(rows)
        await session.flush()
        for row, (*_, breached) in zip(rows, tickets, strict=True):
            if breached:
                session.add(Escalation(ticket_id=row.id, policy=row.sla_policy, target="first_response", cycle=0, level=1,
                                       due_at=row.created_at, deadline=row.created_at, fired_at=row.created_at + timedelta(minutes=1)))
        for author in (agent, agent, agent2):
            session.add(TimelineEntry(ticket_id=rows[0].id, kind="email_out", author_id=author, payload={}, created_at=ago(1)))


async def test_reports_count_what_happened_in_the_range(site: WebSite) -> None:
    await seed(site)
    supervisor = await site.login("supervisor")
    page = await supervisor.api("GET", "/reports?from=2026-03-03&to=2026-03-10")
    assert "Per agent" in page and "SLA compliance per queue and policy" in page
    agents = list(csv.reader(io.StringIO((await supervisor.api("GET", "/reports/agents.csv?from=2026-03-03&to=2026-03-10")).lstrip("\ufeff"))))
    assert agents[0][:5] == ["agent", "calls_answered", "talk_time_s", "avg_talk_time_s", "emails_sent"]
    by_name = {row[0]: row for row in agents[1:]}
    assert by_name["Agent"][1:] == ["2", "180", "90", "2", "2", "7200", "0", "0", "0", "0", ""]  # first responses: 1 h and 3 h; no offers
    assert by_name["Agent2"][1:] == ["1", "30", "30", "1", "1", "1800", "0", "0", "0", "0", ""]
    categories = {row[0]: row for row in csv.reader(io.StringIO(
        (await supervisor.api("GET", "/reports/categories.csv?from=2026-03-03&to=2026-03-10")).lstrip("\ufeff")))}
    assert categories["complaint"][1:6] == ["2", "1", "1", "7200", "1"]  # opened, open, solved, avg first response, breached
    assert categories["inquiry"][1:6] == ["1", "1", "0", "", "0"] and categories["suggestion"][1:4] == ["1", "0", "1"]
    sla = list(csv.reader(io.StringIO((await supervisor.api("GET", "/reports/sla.csv?from=2026-03-03&to=2026-03-10")).lstrip("\ufeff"))))
    assert sla[1:] == [["support", "email", "3", "1", "0.6667"], ["support", "vip", "1", "0", "1.0000"]]


async def test_reports_are_for_supervisors_and_check_their_dates(site: WebSite) -> None:
    agent = await site.login("agent")
    await agent.api("GET", "/reports", status=403)
    supervisor = await site.login("supervisor")
    await supervisor.api("GET", "/reports?from=2026-03-10&to=2026-03-01", status=400)
    await supervisor.api("GET", "/reports?from=yesterday", status=400)
    await supervisor.api("GET", "/reports/nothing.csv", status=404)


async def test_a_transferred_call_counts_for_each_agent_with_their_own_talk_time(site: WebSite) -> None:
    """Issue 11 bug 2: after a transfer each agent's segment is their talk time (not the whole call to the last one)."""
    await seed(site)
    agent, agent2 = site.users["agent"].id, site.users["agent2"].id
    async with site.services.db.transaction() as session:
        call = CallRecord(pbx="pbx", linkedid="transferred", direction="inbound", queue="support", agent_id=agent2,
                          started_at=ago(4), answered_at=ago(4), ended_at=ago(4) + timedelta(seconds=100), talk_s=100.0,
                          outcome="answered")
        session.add(call)
        await session.flush()
        session.add_all([
            CallSegment(call_id=call.id, position=0, agent_id=agent, interface="PJSIP/1001", started_at=ago(4),
                        ended_at=ago(4) + timedelta(seconds=40), talk_s=40.0),
            CallSegment(call_id=call.id, position=1, agent_id=agent2, interface="PJSIP/1002",
                        started_at=ago(4) + timedelta(seconds=40), ended_at=ago(4) + timedelta(seconds=100), talk_s=60.0),
        ])
    supervisor = await site.login("supervisor")
    agents = list(csv.reader(io.StringIO((await supervisor.api("GET", "/reports/agents.csv?from=2026-03-03&to=2026-03-10")).lstrip("\ufeff"))))
    by_name = {row[0]: row for row in agents[1:]}
    assert by_name["Agent"][1:3] == ["3", "220"]  # 60 + 120 + their 40 s of the transferred call
    assert by_name["Agent2"][1:3] == ["2", "90"]  # 30 + their 60 s (not the call's 100)
