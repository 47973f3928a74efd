"""The agent's desk tools (issue 13): custom fields, macros, bulk edits and saved views —
through the services and over HTTP, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from web_fixtures import StaffClient, WebSite

from core.auth import Actor
from core.errors import InvalidInput
from core.records import AuditLog, CustomField, EntryKind, TimelineEntry
from routing.custom_fields import FieldDraft, FieldErrors, define_field, set_field_values


async def _fields(admin: StaffClient) -> None:
    for body in (
        {"key": "order_ref", "name": "Order reference", "kind": "text"},
        {"key": "amount", "name": "Amount", "kind": "number"},
        {"key": "plan", "name": "Plan", "kind": "choice", "choices": ["Basic", "Pro"], "required": True},
        {"key": "renewal", "name": "Renewal", "kind": "date"},
    ):
        await admin.api("POST", "/api/v1/fields", json=body, status=201)


async def _ticket(client: StaffClient, subject: str) -> int:
    created = await client.api("POST", "/api/v1/tickets", json={"subject": subject}, status=201)
    return int(created["ticket"]["id"])


async def _audit(site: WebSite, action: str) -> list[AuditLog]:
    async with site.services.db.session() as session:
        return list(await session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _tickets(found: dict[str, Any]) -> set[int]:
    return {r["id"] for r in found["results"] if r["kind"] == "ticket"}


async def _timeline_kinds(site: WebSite, ticket_id: int) -> list[str]:
    async with site.services.db.session() as session:
        stmt = select(TimelineEntry.kind).where(TimelineEntry.ticket_id == ticket_id).order_by(TimelineEntry.id)
        return list(await session.scalars(stmt))


# -- custom fields ---------------------------------------------------------------------------
async def test_admins_define_fields_and_agents_cannot(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    await _fields(admin)
    listed = await agent.api("GET", "/api/v1/fields")
    assert [f["key"] for f in listed["fields"]] == ["order_ref", "amount", "plan", "renewal"]
    refused = await agent.api("POST", "/api/v1/fields", json={"key": "x", "name": "X", "kind": "text"}, status=403)
    assert refused["error"] == "forbidden"
    again = await admin.api("POST", "/api/v1/fields", json={"key": "amount", "name": "Again", "kind": "text"}, status=400)
    assert again["details"]["field"] == "key"
    no_choices = await admin.api("POST", "/api/v1/fields", json={"key": "tier", "name": "Tier", "kind": "choice"}, status=400)
    assert no_choices["details"]["field"] == "choices"
    bad_kind = await admin.api("POST", "/api/v1/fields", json={"key": "k", "name": "K", "kind": "colour"}, status=400)
    assert bad_kind["details"]["field"] == "kind"
    assert len(await _audit(site, "custom_field.define")) == 4


async def test_field_values_are_validated_by_type_and_refused_by_name(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    await _fields(admin)
    tid = await _ticket(agent, "Invoice for order")
    for values, field, reason in (
        ({"amount": "twelve"}, "amount", "number"),
        ({"renewal": "31/12/2026"}, "renewal", "date"),
        ({"plan": "Gold"}, "plan", "choice"),
        ({"plan": ""}, "plan", "required"),
        ({"nope": "x"}, "nope", "unknown"),
    ):
        refused = await agent.api("PATCH", f"/api/v1/tickets/{tid}", json={"fields": values}, status=400)
        assert refused["details"]["field"] == field
        assert refused["details"]["reasons"][field] == reason
    # Nothing half-written: a refused PATCH changes neither the fields nor the status.
    refused = await agent.api("PATCH", f"/api/v1/tickets/{tid}",
                              json={"status": "solved", "fields": {"order_ref": "A-1", "amount": "x"}}, status=400)
    ticket = (await agent.api("GET", f"/api/v1/tickets/{tid}"))["ticket"]
    assert ticket["fields"] == {} and ticket["status"] != "solved"

    changed = await agent.api("PATCH", f"/api/v1/tickets/{tid}", json={"fields": {
        "order_ref": "  ACME-4711 ", "amount": "1,250.50", "plan": "Pro", "renewal": "2027-01-31"}})
    assert changed["ticket"]["fields"] == {"order_ref": "ACME-4711", "amount": "1250.5", "plan": "Pro",
                                           "renewal": "2027-01-31"}
    assert (await agent.api("GET", f"/api/v1/tickets/{tid}"))["ticket"]["fields"]["plan"] == "Pro"
    assert EntryKind.FIELDS.value in await _timeline_kinds(site, tid)
    audit = await _audit(site, "ticket.fields")
    assert audit[-1].after == {"order_ref": "ACME-4711", "amount": "1250.5", "plan": "Pro", "renewal": "2027-01-31"}
    assert audit[-1].actor_id == site.users["agent"].id


async def test_the_ticket_page_shows_a_refusal_next_to_its_field(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    await _fields(admin)
    tid = await _ticket(agent, "Page fields")
    page = await agent.http.get(f"/tickets/{tid}")
    html = await page.text()
    assert 'id="ticket-fields"' in html and 'name="cf_amount"' in html
    sent = await agent.http.post(f"/tickets/{tid}/fields", data={
        "csrf_token": agent.csrf_token, "cf_order_ref": "B-7", "cf_amount": "lots", "cf_plan": "Basic"})
    html = await sent.text()
    assert sent.status == 400
    assert 'id="cf-amount-error"' in html and "Enter a number." in html
    assert 'value="lots"' in html  # what was typed is still there
    assert "cf-order_ref-error" not in html
    ok = await agent.http.post(f"/tickets/{tid}/fields", data={
        "csrf_token": agent.csrf_token, "cf_order_ref": "B-7", "cf_amount": "3", "cf_plan": "Basic"},
        allow_redirects=False)
    assert ok.status == 303
    assert (await agent.api("GET", f"/api/v1/tickets/{tid}"))["ticket"]["fields"]["amount"] == "3"


async def test_field_values_are_searchable_and_filter_the_queue(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    await _fields(admin)
    wanted = await _ticket(agent, "Where is my parcel")
    other = await _ticket(agent, "Another parcel question")
    await agent.api("PATCH", f"/api/v1/tickets/{wanted}", json={"fields": {"order_ref": "ZX-93817", "plan": "Pro"}})
    await agent.api("PATCH", f"/api/v1/tickets/{other}", json={"fields": {"order_ref": "QQ-1", "plan": "Basic"}})

    found = await agent.api("GET", "/api/v1/search?q=ZX-93817")
    assert _tickets(found) == {wanted}
    page = await agent.http.get("/search", params={"q": "93817"})
    assert f'href="/tickets/{wanted}"' in await page.text()
    # A changed value: the old one no longer finds it, the new one does.
    await agent.api("PATCH", f"/api/v1/tickets/{wanted}", json={"fields": {"order_ref": "ZX-55555"}})
    assert (await agent.api("GET", "/api/v1/search?q=ZX-93817"))["results"] == []
    assert _tickets(await agent.api("GET", "/api/v1/search?q=ZX-55555")) == {wanted}
    # A subject change keeps the field's words in the index.
    await agent.api("PATCH", f"/api/v1/tickets/{wanted}", json={"subject": "Parcel lost"})
    assert _tickets(await agent.api("GET", "/api/v1/search?q=ZX-55555")) == {wanted}

    # Search narrows by a field like the queue does.
    assert _tickets(await agent.api("GET", "/api/v1/search?q=parcel&cf_plan=Basic")) == {other}
    listed = await agent.api("GET", "/api/v1/tickets?cf_plan=pro")
    assert [t["id"] for t in listed["tickets"]] == [wanted]
    assert listed["tickets"][0]["fields"] == {"order_ref": "ZX-55555", "plan": "Pro"}
    both = await agent.api("GET", "/api/v1/tickets?cf_plan=Basic&cf_order_ref=QQ-1")
    assert [t["id"] for t in both["tickets"]] == [other]
    queue = await (await agent.http.get("/queue", params={"cf_plan": "Pro"})).text()
    assert f'data-ticket-id="{wanted}"' in queue and f'data-ticket-id="{other}"' not in queue

    # Deleting a field: its values no longer find tickets.
    order_ref = next(f for f in (await admin.api("GET", "/api/v1/fields"))["fields"] if f["key"] == "order_ref")
    await admin.api("DELETE", f"/api/v1/fields/{order_ref['id']}")
    assert _tickets(await agent.api("GET", "/api/v1/search?q=ZX-55555")) == set()
    assert _tickets(await agent.api("GET", "/api/v1/search?q=parcel")) == {wanted, other}


async def test_the_field_service_refuses_every_bad_value_at_once(site: WebSite) -> None:
    admin = Actor.of(site.users["admin"])
    async with site.services.db.transaction() as session:
        await define_field(session, admin, FieldDraft("size", "Size", "number"))
        await define_field(session, admin, FieldDraft("due", "Due", "date"))
    agent = await site.login("agent")
    tid = await _ticket(agent, "Service check")
    async with site.services.db.session() as session:
        try:
            await set_field_values(site.services.desk, session, Actor.of(site.users["agent"]), tid,
                                   {"size": "big", "due": "soon"})
        except FieldErrors as exc:
            assert set(exc.details["errors"]) == {"size", "due"}
            assert isinstance(exc, InvalidInput)
        else:
            raise AssertionError("bad values were accepted")
        assert await session.scalar(select(func.count()).select_from(CustomField)) == 2


# -- macros ----------------------------------------------------------------------------------
async def _macro(client: StaffClient, expect: int = 201, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.api("POST", "/api/v1/macros", json=body, status=expect)
    return result


async def test_a_macro_preview_writes_nothing_and_applying_goes_through_the_desk(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    macro = await _macro(admin, name="Close as refunded", status="solved", assignee="me",
                         add_tags=["refund", "Billing "], shared=True)
    assert macro["shared"] and macro["add_tags"] == ["refund", "billing"]
    tid = await _ticket(agent, "Refund please")
    before = await agent.api("GET", f"/api/v1/tickets/{tid}")
    audit_before = len(await _audit(site, "ticket.status"))
    kinds_before = await _timeline_kinds(site, tid)

    preview = await agent.api("POST", f"/api/v1/tickets/{tid}/macros/{macro['id']}/preview")
    fields = {c["field"] for c in preview["changes"]}
    assert fields == {"status", "assignee", "tags"}
    assert next(c for c in preview["changes"] if c["field"] == "status")["to"] == "solved"
    assert await agent.api("GET", f"/api/v1/tickets/{tid}") == before  # nothing written
    assert len(await _audit(site, "ticket.status")) == audit_before
    assert await _timeline_kinds(site, tid) == kinds_before
    page = await agent.http.get(f"/tickets/{tid}/macro-preview", params={"macro_id": str(macro["id"]), "fragment": "1"})
    assert "Close as refunded" in await page.text()
    assert await agent.api("GET", f"/api/v1/tickets/{tid}") == before

    applied = await agent.api("POST", f"/api/v1/tickets/{tid}/macros/{macro['id']}/apply")
    assert applied["ticket"]["status"] == "solved"
    assert applied["ticket"]["assignee_id"] == site.users["agent"].id
    after = await agent.api("GET", f"/api/v1/tickets/{tid}")
    assert after["ticket"]["tags"] == ["billing", "refund"]
    kinds = await _timeline_kinds(site, tid)
    assert {"status_change", "assignment", "tags"} <= set(kinds[len(kinds_before):])
    assert len(await _audit(site, "ticket.status")) == audit_before + 1
    assert (await _audit(site, "ticket.assign"))[-1].actor_id == site.users["agent"].id
    # Applying again changes nothing more.
    again = await agent.api("POST", f"/api/v1/tickets/{tid}/macros/{macro['id']}/apply")
    assert again["changes"] == []


async def test_shared_macros_need_an_admin_and_personal_ones_stay_personal(site: WebSite) -> None:
    admin, agent, agent2 = await site.login("admin"), await site.login("agent"), await site.login("agent2")
    refused = await _macro(agent, expect=403, name="Everyone's", status="open", shared=True, queue="billing")
    assert refused["error"] == "forbidden"
    mine = await _macro(agent, name="My triage", queue="billing")
    shared = await _macro(admin, name="Shared pending", status="pending-customer", shared=True)
    assert {m["name"] for m in (await agent.api("GET", "/api/v1/macros"))["macros"]} == {"My triage", "Shared pending"}
    assert {m["name"] for m in (await agent2.api("GET", "/api/v1/macros"))["macros"]} == {"Shared pending"}
    tid = await _ticket(agent2, "Not for others' macros")
    await agent2.api("POST", f"/api/v1/tickets/{tid}/macros/{mine['id']}/preview", status=404)
    await agent2.api("DELETE", f"/api/v1/macros/{mine['id']}", status=404)
    await agent.api("DELETE", f"/api/v1/macros/{shared['id']}", status=403)
    bad = await _macro(agent, expect=400, name="Bad", queue="x", assignee="someone")
    assert bad["details"]["field"] == "assignee"
    empty = await _macro(agent, expect=400, name="Nothing")
    assert empty["details"]["field"] == "name"
    no_template = await _macro(agent, expect=400, name="Ghost", template_id=999999)
    assert no_template["details"]["field"] == "template_id"
    page = await (await agent.http.get("/macros")).text()
    assert f'action="/macros/{mine["id"]}"' in page and f'action="/macros/{shared["id"]}"' not in page
    edited = await agent.http.post(f"/macros/{mine['id']}", data={"csrf_token": agent.csrf_token or "",
                                                                  "name": "My billing triage", "queue": "billing",
                                                                  "add_tags": "billing, triage"}, allow_redirects=False)
    assert edited.status == 303
    changed = next(m for m in (await agent.api("GET", "/api/v1/macros"))["macros"] if m["id"] == mine["id"])
    assert changed["name"] == "My billing triage" and changed["add_tags"] == ["billing", "triage"]
    assert len(await _audit(site, "macro.change")) == 1
    await agent.api("DELETE", f"/api/v1/macros/{mine['id']}")
    assert [a.action for a in await _audit(site, "macro.delete")] == ["macro.delete"]


async def test_a_macro_with_a_template_sends_nothing(site: WebSite) -> None:
    admin, agent = await site.login("admin"), await site.login("agent")
    template = await admin.api("POST", "/api/v1/templates", json={"name": "Thanks", "subject": "Re", "body":
                                                                  "Thank you {{ customer.name }}"}, status=201)
    template_id = template["template"]["id"]
    macro = await _macro(admin, name="Thank and pend", template_id=template_id, status="pending-customer", shared=True)
    tid = await _ticket(agent, "Thanks")
    applied = await agent.http.post(f"/tickets/{tid}/macros/{macro['id']}/apply", data={"csrf_token": agent.csrf_token},
                                    allow_redirects=False)
    assert applied.status == 303
    assert applied.headers["Location"] == f"/tickets/{tid}?reply_template={template_id}#reply-composer"
    kinds = await _timeline_kinds(site, tid)
    assert "email_out" not in kinds and "status_change" in kinds


# -- bulk edits ------------------------------------------------------------------------------
async def test_bulk_edits_change_each_ticket_and_report_each_failure(site: WebSite) -> None:
    agent, supervisor = await site.login("agent"), await site.login("supervisor")
    mine = [await _ticket(agent, f"Bulk {n}") for n in range(3)]
    theirs = await _ticket(agent, "Someone else's")
    await supervisor.api("PATCH", f"/api/v1/tickets/{theirs}", json={"assignee_id": site.users["supervisor"].id})
    result = await agent.api("POST", "/api/v1/tickets/bulk", json={
        "ticket_ids": [*mine, theirs, 999999], "assignee": str(site.users["agent2"].id), "status": "open",
        "add_tags": ["bulk"], "queue": "billing"})
    by_id = {r["ticket_id"]: r for r in result["results"]}
    assert result["changed"] == 3 and result["failed"] == 2
    assert all(by_id[t]["ok"] for t in mine)
    assert by_id[theirs]["error_id"] == "forbidden" and not by_id[theirs]["ok"]
    assert by_id[999999]["error_id"] == "not-found"
    for tid in mine:
        ticket = (await agent.api("GET", f"/api/v1/tickets/{tid}"))["ticket"]
        assert ticket["assignee_id"] == site.users["agent2"].id and ticket["queue"] == "billing"
        assert ticket["tags"] == ["bulk"]
    untouched = (await agent.api("GET", f"/api/v1/tickets/{theirs}"))["ticket"]
    assert untouched["assignee_id"] == site.users["supervisor"].id and untouched["tags"] == []
    assert untouched["queue"] != "billing"  # nothing of a refused ticket's changes is kept
    assert len([a for a in await _audit(site, "ticket.assign") if a.entity_id in {str(t) for t in mine}]) == 3

    refused = await agent.api("POST", "/api/v1/tickets/bulk", json={"ticket_ids": [], "status": "open"}, status=400)
    assert refused["details"]["field"] == "ticket_ids"
    refused = await agent.api("POST", "/api/v1/tickets/bulk", json={"ticket_ids": mine, "status": "later"}, status=400)
    assert refused["details"]["field"] == "status"
    removed = await agent.api("POST", "/api/v1/tickets/bulk", json={"ticket_ids": mine, "remove_tags": ["bulk"]})
    assert removed["changed"] == 3


async def test_bulk_edits_from_the_queue_page(site: WebSite) -> None:
    agent = await site.login("agent")
    ids = [await _ticket(agent, f"Page bulk {n}") for n in range(2)]
    queue = await (await agent.http.get("/queue")).text()
    assert 'id="bulk-form"' in queue and 'id="select-page"' in queue
    form = [("csrf_token", agent.csrf_token or ""), ("status", "pending-customer"), ("add_tags", "waiting, vip"),
            *[("ticket_ids", str(i)) for i in ids], ("ticket_ids", "424242")]
    page = await agent.http.post("/queue/bulk?status=all", data=form)
    html = await page.text()
    assert page.status == 200 and 'id="bulk-outcomes"' in html
    assert "2 of 3 tickets changed." in html and 'data-ticket-id="424242"' in html
    for tid in ids:
        ticket = (await agent.api("GET", f"/api/v1/tickets/{tid}"))["ticket"]
        assert ticket["status"] == "pending-customer" and ticket["tags"] == ["vip", "waiting"]


# -- saved views -----------------------------------------------------------------------------
async def test_saved_views_are_personal_unless_an_admin_shares_them(site: WebSite) -> None:
    admin, agent, agent2 = await site.login("admin"), await site.login("agent"), await site.login("agent2")
    mine = await agent.api("POST", "/api/v1/views", json={"name": "My billing", "query": "queue=billing&sort=-updated"},
                           status=201)
    assert mine["query"] == {"queue": "billing", "status": "open", "sort": "-updated"} and not mine["shared"]
    shared = await admin.api("POST", "/api/v1/views", json={"name": "Urgent for all", "query": {"tag": "Urgent"},
                                                            "shared": True}, status=201)
    assert shared["shared"] and shared["query"]["tag"] == "urgent"
    refused = await agent.api("POST", "/api/v1/views", json={"name": "For all", "query": {}, "shared": True}, status=403)
    assert refused["error"] == "forbidden"
    bad = await agent.api("POST", "/api/v1/views", json={"name": "Bad", "query": "sort=colour"}, status=400)
    assert bad["details"]["field"] == "sort"
    unnamed = await agent.api("POST", "/api/v1/views", json={"name": " ", "query": {}}, status=400)
    assert unnamed["details"]["field"] == "name"

    assert [v["name"] for v in (await agent.api("GET", "/api/v1/views"))["views"]] == ["Urgent for all", "My billing"]
    assert [v["name"] for v in (await agent2.api("GET", "/api/v1/views"))["views"]] == ["Urgent for all"]
    queue = await (await agent2.http.get("/queue")).text()
    assert "Urgent for all" in queue and "My billing" not in queue

    await agent2.api("PATCH", f"/api/v1/views/{mine['id']}", json={"name": "Mine now"}, status=404)
    await agent.api("DELETE", f"/api/v1/views/{shared['id']}", status=403)
    renamed = await agent.api("PATCH", f"/api/v1/views/{mine['id']}", json={"name": "Billing, newest"})
    assert renamed["name"] == "Billing, newest"
    await admin.api("PATCH", f"/api/v1/views/{shared['id']}", json={"name": "Urgent"})
    await agent.api("DELETE", f"/api/v1/views/{mine['id']}")
    assert [v["name"] for v in (await agent.api("GET", "/api/v1/views"))["views"]] == ["Urgent"]
    assert [a.action for a in await _audit(site, "view.rename")] == ["view.rename", "view.rename"]


async def test_saving_a_view_from_the_queue_page(site: WebSite) -> None:
    agent = await site.login("agent")
    saved = await agent.http.post("/queue/views", data={"csrf_token": agent.csrf_token, "name": "Email, newest",
                                                        "query": "channel=email&sort=-created&page=3"},
                                  allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == "/queue?status=open&channel=email&sort=-created"
    views = (await agent.api("GET", "/api/v1/views"))["views"]
    assert views[0]["query"] == {"status": "open", "channel": "email", "sort": "-created"}
    page = await (await agent.http.get("/queue")).text()
    assert "Email, newest" in page and "/queue?status=open&amp;channel=email&amp;sort=-created" in page
