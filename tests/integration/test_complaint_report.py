"""The complaint report: volume and weekly trend by category, product, queue and channel, the
tickets behind each figure, and the same figures as CSV; supervisors only."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from web_fixtures import WebSite

from core.clock import ManualClock
from core.records import Ticket, TicketTag

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # a Tuesday
RANGE = "from=2026-03-01&to=2026-03-10"  # a Sunday (week of 23 Feb), the week of 2 March, the week of 9 March


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


async def seed(site: WebSite) -> dict[str, int]:
    rows = {  # name: (complaint category, queue, channel, became a complaint, product tags)
        "router-mail": ("billing", "support", "email", datetime(2026, 3, 2, 10, tzinfo=UTC), ["product:router"]),
        "router-call": ("billing", "support", "voice", datetime(2026, 3, 9, 10, tzinfo=UTC), ["product:router", "product:modem"]),
        "late-parcel": ("delivery", "sales", "web", datetime(2026, 3, 1, 10, tzinfo=UTC), ["vip"]),
        "last-month": ("billing", "support", "email", datetime(2026, 2, 20, 10, tzinfo=UTC), []),
        "no-complaint": (None, "support", "email", None, ["product:router"]),
    }
    ids: dict[str, int] = {}
    async with site.services.db.transaction() as session:
        for name, (category, queue, channel, at, tags) in rows.items():
            ticket = Ticket(subject=name, channel=channel, queue=queue, complaint_category=category, complained_at=at,
                            category="complaint" if category else "inquiry", created_at=NOW, updated_at=NOW)
            session.add(ticket)
            await session.flush()
            ids[name] = ticket.id
            session.add_all([TicketTag(ticket_id=ticket.id, tag=tag, created_at=NOW) for tag in tags])
    return ids


async def test_complaints_by_category_product_queue_and_channel_week_by_week(site: WebSite) -> None:
    ids = await seed(site)
    supervisor = await site.login("supervisor")
    page = await supervisor.http.get(f"/reports/complaints?{RANGE}")
    assert page.status == 200
    html = await page.text()
    assert re.search(r'class="complaints-total">[^<]*<strong>3</strong>', html)
    assert "Billing" in html and "Delivery" in html  # the categories' names, not their keys

    response = await supervisor.http.get(f"/reports/complaints.csv?{RANGE}")
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == ["by", "key", "name", "total", "week_of_2026-02-23", "week_of_2026-03-02", "week_of_2026-03-09"]
    figures = {(r[0], r[1]): [int(n) for n in r[3:]] for r in rows[1:]}
    assert figures == {
        ("all", ""): [3, 1, 1, 1],
        ("category", "billing"): [2, 0, 1, 1],
        ("category", "delivery"): [1, 1, 0, 0],
        ("product", "router"): [2, 0, 1, 1],
        ("product", "modem"): [1, 0, 0, 1],
        ("product", ""): [1, 1, 0, 0],
        ("queue", "support"): [2, 0, 1, 1],
        ("queue", "sales"): [1, 1, 0, 0],
        ("channel", "email"): [1, 0, 1, 0],
        ("channel", "voice"): [1, 0, 0, 1],
        ("channel", "web"): [1, 1, 0, 0],
    }

    async def drilled(query: str) -> set[int]:
        response = await supervisor.http.get(f"/reports/complaints?{RANGE}&{query}")
        assert response.status == 200
        return {int(n) for n in re.findall(r'<tr data-ticket-id="(\d+)"', await response.text())}

    assert await drilled("by=product&key=router") == {ids["router-mail"], ids["router-call"]}
    assert await drilled("by=category&key=delivery") == {ids["late-parcel"]}
    assert await drilled("by=product&key=") == {ids["late-parcel"]}
    assert await drilled("by=channel&key=voice") == {ids["router-call"]}
    assert f'href="/reports/complaints?{RANGE}&by=category&key=billing"' in html.replace("&amp;", "&")

    bad = await supervisor.http.get(f"/reports/complaints?{RANGE}&by=colour&key=x", headers={"Accept": "application/json"})
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "by"
    agent = await site.login("agent")
    assert (await agent.http.get(f"/reports/complaints?{RANGE}")).status == 403
    assert (await agent.http.get(f"/reports/complaints.csv?{RANGE}")).status == 403

    # the queue's own filter finds the same tickets (an agent following a ticket link lands there)
    listed = await agent.api("GET", "/api/v1/tickets?status=all&complaint=billing"
                                    "&complained_since=2026-03-01T00:00:00%2B00:00&complained_until=2026-03-11T00:00:00%2B00:00")
    assert {t["id"] for t in listed["tickets"]} == {ids["router-mail"], ids["router-call"]}
    assert {t["complaint_category"] for t in listed["tickets"]} == {"billing"}
