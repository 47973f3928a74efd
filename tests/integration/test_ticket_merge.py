"""Merge and split, as agents use them: one customer wrote twice about one thing (merge); one mail
asked two things (split). Timelines, status, threading of later mail, the API and the page."""

from __future__ import annotations

import pytest
from web_fixtures import WebSite

from config.services import Services
from core.auth import Actor
from core.errors import InvalidInput
from core.records import EntryKind, Role, TicketStatus
from routing import Contact
from routing.merging import merge, split, survivor

AGENT = Actor(None, "agent", frozenset({Role.AGENT}))


async def _mail(services: Services, subject: str, text: str, key: str) -> int:
    async with services.db.session() as session:
        accepted = await services.desk.accept(session, Contact("email", None, subject=subject), EntryKind.EMAIL_IN,
                                              {"subject": subject, "text": text}, dedup_key=key)
        await services.desk.commit_and_publish(session)
        return accepted.ticket.id


async def test_merging_moves_the_timeline_closes_the_other_and_later_mail_lands_in_the_survivor(
    services: Services,
) -> None:
    first = await _mail(services, "Parcel missing", "Order 881 never came", "m1")
    second = await _mail(services, "Where is my parcel??", "Still nothing for order 881", "m2")
    async with services.db.session() as session:
        kept = await merge(services.desk, session, AGENT, second, first)
        await services.desk.commit_and_publish(session)
        assert kept.id == first
    async with services.db.session() as session:
        merged = await services.desk.get(session, AGENT, second)
        assert merged.status == TicketStatus.CLOSED and merged.merged_into_id == first
        timeline = await services.desk.timeline(session, AGENT, first)
        texts = [e.payload.get("text") for e in timeline if e.kind == EntryKind.EMAIL_IN]
        assert texts == ["Order 881 never came", "Still nothing for order 881"]
        assert [e.payload["event"] for e in timeline if e.kind == EntryKind.MERGE] == ["merged-from"]
        assert await survivor(session, second) == first
        with pytest.raises(InvalidInput):
            await merge(services.desk, session, AGENT, first, second)  # would point back at itself
        with pytest.raises(InvalidInput):
            await merge(services.desk, session, AGENT, first, first)
    # Search finds the moved mail under the survivor.
    async with services.db.session() as session:
        from routing import TicketFilter

        page = await services.search.tickets(session, AGENT, "still nothing", TicketFilter(status="all"))
        assert [h.id for h in page.hits] == [first]


async def test_splitting_one_message_off_makes_a_ticket_of_its_own(services: Services) -> None:
    ticket_id = await _mail(services, "Two things", "My invoice is wrong", "s1")
    async with services.db.session() as session:
        entry = await services.desk.add_note(session, AGENT, ticket_id, "Also: please change my address")
        await services.desk.commit_and_publish(session)
        entry_id = entry.id
    async with services.db.session() as session:
        fresh = await split(services.desk, session, AGENT, entry_id)
        await services.desk.commit_and_publish(session)
        fresh_id = fresh.id
    async with services.db.session() as session:
        moved = await services.desk.timeline(session, AGENT, fresh_id)
        kept = await services.desk.timeline(session, AGENT, ticket_id)
        assert [e.payload.get("text") for e in moved if e.kind == EntryKind.NOTE] == ["Also: please change my address"]
        assert [e.payload.get("event") for e in kept if e.kind == EntryKind.MERGE] == ["split-to"]
        only = next(e for e in kept if e.kind == EntryKind.EMAIL_IN)
        with pytest.raises(InvalidInput):  # the ticket's last message stays
            await split(services.desk, session, AGENT, only.id)


async def test_merge_and_split_from_the_page_and_the_api(site: WebSite) -> None:
    agent = await site.login("agent")
    a = (await agent.api("POST", "/api/v1/tickets", json={"subject": "Login broken"}, status=201))["ticket"]
    b = (await agent.api("POST", "/api/v1/tickets", json={"subject": "Cannot log in"}, status=201))["ticket"]
    page = await agent.api("GET", f"/tickets/{b['id']}")
    assert f'action="/tickets/{b["id"]}/merge"' in page
    response = await agent.http.post(f"/tickets/{b['id']}/merge", data={"into": f"#{a['number']}",
                                     "csrf_token": agent.csrf_token}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/tickets/{a['id']}"
    survivor = await agent.api("GET", f"/tickets/{a['id']}")
    assert f"#{b['number']}" in survivor and "Merged in from" in survivor
    bad = await agent.api("POST", f"/api/v1/tickets/{a['id']}/merge", json={"into_id": a["id"]}, status=400)
    assert bad["details"]["field"] == "into"
    timeline = await agent.api("GET", f"/api/v1/tickets/{a['id']}/timeline")
    note = next(e for e in timeline["entries"] if e["kind"] == "note")
    split = await agent.api("POST", f"/api/v1/tickets/{a['id']}/split", json={"entry_id": note["id"]}, status=201)
    assert split["ticket"]["subject"] in ("Login broken", "Cannot log in")
