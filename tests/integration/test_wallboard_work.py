"""Supervisors see pushed work on the wallboard: per queue waiting / offered / assigned, who is
at capacity, and today's offers with accepts, declines and the time to accept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from web_fixtures import StaffClient, WebSite

from config.settings import Settings, load_settings
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind
from routing import Contact


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url,
                         routing={"queue_strategies": {"email": "least_busy"}, "agent_capacity": 1, "offer_timeout_s": 60,
                                  "prefer_last_agent": False})


async def _mail(site: WebSite, customer_id: int, subject: str) -> int:
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(session, Contact("email", customer_id, subject=subject), EntryKind.EMAIL_IN, {})
        await site.services.desk.commit_and_publish(session)
        return accepted.ticket.id


async def _offers(agent: StaffClient, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(15):
        while True:
            offers = (await agent.api("GET", "/api/v1/offers"))["offers"]
            if len(offers) >= count:
                return list(offers)
            await asyncio.sleep(0.1)


async def test_the_wallboard_shows_pushed_work_per_queue_who_is_at_capacity_and_offers(site: WebSite) -> None:
    async with site.services.db.transaction() as session:
        customer = (await create_customer(session, Actor.system(), CustomerDraft(name="Ana"))).id
    agent, agent2, supervisor = await site.login("agent"), await site.login("agent2"), await site.login("supervisor")
    page = await supervisor.api("GET", "/wallboard")
    assert "No work is being offered to agents." in page

    await agent.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    await agent2.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    first = await _mail(site, customer, "Where is my order")
    (offer,) = await _offers(agent, 1)  # least busy, then the lower id
    assert offer["ticket_id"] == first
    await agent.api("POST", f"/api/v1/offers/{offer['offer_id']}/decline")
    (again,) = await _offers(agent2, 1)
    await asyncio.sleep(0.2)  # an offer's age counts towards the time to accept
    await agent2.api("POST", f"/api/v1/offers/{again['offer_id']}/accept")
    await _mail(site, customer, "And another question")  # agent2 is full; agent declined only the first
    await _offers(agent, 1)
    await _mail(site, customer, "A third one")  # nobody has room (an open offer holds its weight): it waits

    await asyncio.sleep(2.1)  # the board reads the figures again at most every two seconds
    page = await supervisor.api("GET", "/wallboard")
    work = page.split('id="region-work"', 1)[1].split("</section>", 1)[0]
    row = work.split('data-queue="email"', 1)[1].split("</tr>", 1)[0]
    assert 'data-figure="work-waiting">1<' in row and 'data-figure="work-offered">1<' in row
    assert 'data-figure="work-assigned">1<' in row
    at_capacity = work.split('data-figure="at-capacity"', 1)[1].split("</p>", 1)[0]
    assert "Agent2 (1/1)" in at_capacity and "Agent (1/1)" in at_capacity  # the accepted ticket; the open offer
    assert 'data-figure="offers">3<' in work and 'data-figure="offers-accepted">1<' in work
    assert 'data-figure="offers-declined">1<' in work and 'data-figure="offers-missed">0<' in work
    assert 'data-figure="time-to-accept">–<' not in work
