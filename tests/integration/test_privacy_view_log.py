"""The view log: each look at a customer or a ticket, page or API, is recorded and shown to
admins with filters; a failed look and a list are not."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from web_fixtures import WebSite

from core.records import Customer, Ticket
from privacy import VIEW_LOG
from privacy.records import RecordView


async def _seed(site: WebSite) -> tuple[int, int, int]:
    async with site.services.db.transaction() as session:
        mei, ana = Customer(name="Li Mei"), Customer(name="Ana Ruiz")
        session.add_all([mei, ana])
        await session.flush()
        ticket = Ticket(subject="Router broken", channel="email", queue="support", customer_id=mei.id)
        session.add(ticket)
        await session.flush()
        return mei.id, ana.id, ticket.id


def _rows(page: str) -> list[str]:
    body = page.split('<tbody>')[1].split('</tbody>')[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("<tr>")[1:]]


async def test_views_are_recorded_in_batches_and_shown_to_admins_with_filters(site: WebSite) -> None:
    mei, ana, ticket = await _seed(site)
    agent, supervisor = await site.login("agent"), await site.login("supervisor")
    assert (await agent.http.get(f"/customers/{mei}")).status == 200
    assert (await agent.http.get(f"/tickets/{ticket}")).status == 200
    await agent.api("GET", f"/api/v1/customers/{ana}")
    await supervisor.api("GET", f"/api/v1/tickets/{ticket}")
    # not views of a record: a refused or missing one, a list
    await agent.api("GET", "/api/v1/customers/99999", status=404)
    await agent.api("GET", "/api/v1/customers")
    view_log = site.server.app[VIEW_LOG]
    assert len(view_log.pending) + await _stored(site) == 4  # noted in memory; the writer batches
    await view_log.flush()
    assert await _stored(site) == 4 and view_log.pending == []

    admin = await site.login("admin")
    everything = _rows(await admin.api("GET", "/admin/views"))
    assert len(everything) == 4
    assert any("Agent" in r and "Li Mei" in r and "page" in r for r in everything)
    assert any("Supervisor" in r and f"#{ticket + 1000}" in r and "API" in r and "Li Mei" in r for r in everything)
    # by customer: their record and their ticket, not the other customer
    for_mei = _rows(await admin.api("GET", f"/admin/views?customer={mei}"))
    assert len(for_mei) == 3 and not any("Ana Ruiz" in r for r in for_mei)
    by_supervisor = _rows(await admin.api("GET", f"/admin/views?user={site.users['supervisor'].id}"))
    assert len(by_supervisor) == 1
    today = site.services.clock.now().date().isoformat()
    assert len(_rows(await admin.api("GET", f"/admin/views?from={today}&to={today}"))) == 4
    assert "Nothing viewed" in (await admin.api("GET", "/admin/views?to=2001-01-01"))
    # bad filters are refused with the field named; people other than admins are refused
    assert (await admin.http.get("/admin/views?from=yesterday")).status == 400
    assert (await admin.http.get("/admin/views?customer=abc")).status == 400
    assert "Nothing viewed" in await admin.api("GET", f"/admin/views?customer={2**40}")
    assert (await agent.http.get("/admin/views", allow_redirects=False)).status == 403


async def _stored(site: WebSite) -> int:
    async with site.services.db.session() as session:
        return await session.scalar(select(func.count()).select_from(RecordView)) or 0
