"""Customer management over HTTP: the pages (list, search, create with a refused field shown,
edit, merge and undo, link a ticket, CSV preview and import, export) and the REST endpoints."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from web_fixtures import WebSite

from core.clock import Clock, ManualClock
from core.records import EntryKind
from routing import Contact


@pytest.fixture
def clock() -> Clock:
    return ManualClock()


async def test_pages_create_edit_search_and_refuse_a_bad_field(site: WebSite) -> None:
    agent = await site.login("agent")
    page = await agent.api("POST", "/customers", data={"name": "Ana", "phones": "12ab", "emails": "", "tier": "standard"},
                           status=400)
    assert 'data-field="phones"' in page and "not a phone number that can be dialled" in page
    page = await agent.api("POST", "/customers", data={"name": "Ana", "emails": "ana.example.com", "tier": "vip"},
                           status=400)
    assert 'data-field="emails"' in page
    page = await agent.api("POST", "/customers", data={
        "name": "Ana Gómez", "emails": "ana@example.es\nana@work.example", "phones": "+34 612 345 678",
        "tier": "vip", "tier_reason": "Contrato anual"})
    assert "Ana Gómez" in page and "Contrato anual" in page and "+34 612 34 56 78" in page
    found = await agent.api("GET", "/customers?q=work.example")
    assert "Ana Gómez" in found
    assert "Ana Gómez" not in await agent.api("GET", "/customers?q=nobody")
    listed = await agent.api("GET", "/api/v1/customers?q=ana")
    [ana] = listed["customers"]
    await agent.api("POST", f"/customers/{ana['id']}", data={
        "name": "Ana Gómez Ruiz", "emails": "ana@example.es", "phones": "+34612345678", "tier": "vip", "tags": "b2b"})
    assert (await agent.api("GET", f"/api/v1/customers/{ana['id']}"))["customer"]["tags"] == ["b2b"]
    refused = await agent.api("PATCH", f"/api/v1/customers/{ana['id']}", json={"emails": ["nope"]}, status=400)
    assert refused["details"]["field"] == "emails"


async def test_merge_unmerge_and_link_over_rest(site: WebSite) -> None:
    agent = await site.login("agent")
    one = (await agent.api("POST", "/api/v1/customers", json={"name": "Lucía", "emails": ["lucia@example.es"]},
                           status=201))["customer"]
    two = (await agent.api("POST", "/api/v1/customers", json={"name": "Lucia P", "emails": ["lp@work.example"],
                                                               "phones": ["+34600111222"]}, status=201))["customer"]
    merged = await agent.api("POST", f"/api/v1/customers/{one['id']}/merge", json={"other_id": two["id"]})
    assert merged["merge"]["merged_id"] == two["id"]
    survivor = (await agent.api("GET", f"/api/v1/customers/{one['id']}"))["customer"]
    assert sorted(survivor["emails"]) == ["lp@work.example", "lucia@example.es"] and survivor["phones"] == ["+34600111222"]
    page = await agent.api("GET", f"/customers/{one['id']}")
    assert "Lucia P" in page and "/unmerge" in page
    await agent.api("POST", f"/api/v1/customers/{two['id']}/unmerge")
    assert (await agent.api("GET", f"/api/v1/customers/{two['id']}"))["customer"]["emails"] == ["lp@work.example"]
    await agent.api("POST", f"/api/v1/customers/{one['id']}/merge", json={"other_id": two["id"]})
    clock = site.services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=25))
    agent = await site.login("agent")  # the session has expired too
    late = await agent.api("POST", f"/api/v1/customers/{two['id']}/unmerge", status=409)
    assert late["message"] == "a merge can only be undone within 24 hours of it"
    assert "Too late to undo" in await agent.api("GET", f"/customers/{one['id']}")

    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(session, Contact("email", None, subject="Sin cliente"),
                                                   EntryKind.EMAIL_IN, {"subject": "Sin cliente", "text": "?"})
        await site.services.desk.commit_and_publish(session)
    ticket_id = accepted.ticket.id
    await agent.api("POST", "/customers/link-ticket", data={"ticket_id": str(ticket_id), "customer_id": str(one["id"])})
    assert "Sin cliente" in await agent.api("GET", f"/customers/{one['id']}")
    assert f'href="/customers/{one["id"]}"' in await agent.api("GET", f"/tickets/{ticket_id}")
    other = (await agent.api("POST", "/api/v1/customers", json={"name": "Otro"}, status=201))["customer"]
    await agent.api("POST", f"/api/v1/customers/{other['id']}/tickets", json={"ticket_id": ticket_id})
    contact = await agent.api("POST", f"/api/v1/customers/{other['id']}/contacts", json={"phone": "+34911222333"})
    assert contact["customer"]["phones"] == ["+34911222333"]


async def test_csv_preview_import_and_export(site: WebSite) -> None:
    agent = await site.login("agent")
    assert "/customers/import" not in await agent.api("GET", "/customers")
    await agent.api("GET", "/customers/export.csv", status=403)
    admin = await site.login("admin")
    text = "name,email,phone\nUno,uno@example.es,+34910000001\nMal,mal,+34910000002\nDos,uno@example.es,\n"
    preview = await admin.api("POST", "/api/v1/customers/import", json={"csv": text})
    assert preview["counts"] == {"new": 1, "updated": 0, "duplicates": 1, "errors": 1}
    assert preview["errors"][0]["row"] == 3 and preview["errors"][0]["field"] == "emails"
    assert (await admin.api("GET", "/api/v1/customers?q=uno"))["customers"] == []
    page = await admin.api("POST", "/customers/import", data={"csv": text, "mode": "preview"})
    assert 'id="count-errors">1<' in page and "Same phone or email as row 2" in page
    page = await admin.api("POST", "/customers/import", data={"csv": text, "mode": "confirm"})
    assert 'id="count-new">1<' in page
    exported = await admin.api("GET", "/customers/export.csv")
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert [(r["name"], r["emails"], r["phones"]) for r in rows] == [("Uno", "uno@example.es", "+34910000001")]
    again = await admin.api("POST", "/api/v1/customers/import", json={"csv": exported, "dry_run": False})
    assert again["counts"]["duplicates"] == 1 and again["counts"]["new"] == 0
