"""The server-rendered console: the queue, the ticket page and its actions."""

from __future__ import annotations

import re

from web_fixtures import StaffClient, WebSite

from core.auth import Actor
from core.records import EntryKind, Ticket
from routing import Contact


async def form_post(client: StaffClient, path: str, **fields: str) -> tuple[int, str, str]:
    data = {"csrf_token": client.csrf_token or "", **fields}
    response = await client.http.post(path, data=data, allow_redirects=False)
    return response.status, response.headers.get("Location", ""), await response.text()


async def seed_ticket(site: WebSite) -> int:
    """A customer's ticket with an email, a call and an alert on its timeline."""
    agent = await site.login("agent")
    customer = await agent.api(
        "POST",
        "/api/v1/customers",
        json={"name": "Zhang Min", "phones": ["+8613800138000"], "emails": ["min@example.com"], "tier": "vip",
              "tags": ["reseller"]},
        status=201,
    )
    customer_id = customer["customer"]["id"]
    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(
            session,
            Contact(channel="email", customer_id=customer_id, customer_tier="vip", subject="<b>Refund</b> please"),
            EntryKind.EMAIL_IN,
            {"from": "min@example.com", "subject": "<b>Refund</b> please", "text": "Order 77 arrived broken."},
        )
        ticket = accepted.ticket
        await desk.append(session, ticket, EntryKind.CALL,
                          {"direction": "inbound", "caller": "+8613800138000", "duration": 95, "status": "answered"})
        await desk.append(session, ticket, EntryKind.ALERT, {"level": 1, "message": "80% of the reply target used"})
        await desk.commit_and_publish(session)
        old = await desk.open_ticket(session, Actor.system(), "Earlier question", customer_id=None)
        old.ticket.customer_id = customer_id
        old.ticket.status = "solved"
        await session.commit()
        return ticket.id


async def test_the_queue_lists_open_tickets_with_filters(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    response = await agent.http.get("/queue")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert f'data-ticket-id="{ticket_id}"' in page
    assert "&lt;b&gt;Refund&lt;/b&gt; please" in page  # escaped, never markup
    assert "<b>Refund</b>" not in page
    assert "Earlier question" not in page  # solved: not in the open queue
    assert "Earlier question" in await agent.api("GET", "/queue?status=solved")
    assert f'data-ticket-id="{ticket_id}"' not in await agent.api("GET", "/queue?channel=voice")
    assert "No tickets match." in await agent.api("GET", "/queue?mine=1")
    assert f'data-ticket-id="{ticket_id}"' in await agent.api("GET", "/queue/table?assignee=none")
    assert (await agent.http.get("/queue?status=bogus")).status == 400


async def test_the_ticket_page_reads_top_to_bottom_with_the_customer_panel(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    timeline = page[page.index('<ol class="timeline">'):]  # the page's word lists come earlier
    order = [timeline.index(marker) for marker in ("Email received", "Order 77 arrived broken.", "Call", "Alert")]
    assert order == sorted(order)
    assert "80% of the reply target used" in page
    assert "+86 138 0013 8000" in page  # the caller, formatted
    panel = page[page.index('class="customer-panel"'):]
    for text in ("Zhang Min", "vip", "reseller", "min@example.com", "Earlier question"):
        assert text in panel
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page)
    for action in ("take", "status", "priority", "category", "note"):
        assert f'action="/tickets/{ticket_id}/{action}"' in page
    assert "assign" in re.findall(r'action="/tickets/\d+/(\w+)"', page)  # nobody's yet: an agent may hand it on


async def test_an_agent_takes_notes_and_solves_from_the_page(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    base = f"/tickets/{ticket_id}"
    assert (await form_post(agent, base + "/take"))[:2] == (303, base)
    assert (await form_post(agent, base + "/note", text="Replacement sent"))[0] == 303
    assert (await form_post(agent, base + "/priority", priority="urgent"))[0] == 303
    assert (await form_post(agent, base + "/status", status="solved"))[0] == 303
    page = await agent.api("GET", base)
    for text in ("Assignment", "Replacement sent", "Status changed"):
        assert text in page
    async with site.services.db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.assignee_id, ticket.status, ticket.priority) == (site.users["agent"].id, "solved", 3)


async def test_an_agent_hands_a_ticket_on_but_only_a_supervisor_takes_it_from_a_colleague(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    assert "Assign</button>" in await agent.api("GET", f"/tickets/{ticket_id}")
    status, _, _ = await form_post(agent, f"/tickets/{ticket_id}/assign", user_id=str(site.users["agent2"].id))
    assert status == 303
    # Now Agent2's: Alice sees no assign form and is refused if she posts one anyway.
    assert "Assign</button>" not in await agent.api("GET", f"/tickets/{ticket_id}")
    status, _, text = await form_post(agent, f"/tickets/{ticket_id}/assign", user_id="")
    assert status == 403
    assert "this needs the supervisor role" in text
    supervisor = await site.login("supervisor")
    assert "Assign</button>" in await supervisor.api("GET", f"/tickets/{ticket_id}")
    status, _, _ = await form_post(supervisor, f"/tickets/{ticket_id}/assign", user_id=str(site.users["agent"].id))
    assert status == 303


async def test_an_empty_note_gets_a_clear_page(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    status, _, text = await form_post(agent, f"/tickets/{ticket_id}/note", text="   ")
    assert status == 400
    assert "a note needs some text" in text


async def test_a_new_ticket_from_the_console(site: WebSite) -> None:
    agent = await site.login("agent")
    status, location, _ = await form_post(agent, "/tickets", subject="Walk-in visitor", body="Lost badge")
    assert status == 303
    page = await agent.api("GET", location)
    assert "Walk-in visitor" in page
    assert "Lost badge" in page


async def test_the_queue_sorts_by_any_column_shows_the_due_time_and_pages(site: WebSite) -> None:
    from datetime import timedelta

    agent = await site.login("agent")
    ids = []
    for n in range(3):
        created = await agent.api("POST", "/api/v1/tickets", json={"subject": f"Sorting {n}"}, status=201)
        ids.append(created["ticket"]["id"])
    now = site.services.clock.now()
    async with site.services.db.transaction() as session:
        # Future deadlines only: the site's SLA scanner would act on a past one (and move it).
        for ticket_id, due in zip(ids, (timedelta(hours=5), timedelta(hours=1), None), strict=True):
            ticket = await session.get(Ticket, ticket_id)
            assert ticket is not None
            ticket.due_at = now + due if due is not None else None

    def order(html: str) -> list[int]:
        return [i for _, i in sorted((html.index(f'data-ticket-id="{i}"'), i) for i in ids)]

    by_due = await (await agent.http.get("/queue", params={"sort": "due"})).text()
    assert order(by_due) == [ids[1], ids[0], ids[2]]  # soonest first, no deadline last
    assert 'class="overdue"' not in by_due and 'aria-sort="ascending"' in by_due
    reverse = await (await agent.http.get("/queue", params={"sort": "-due"})).text()
    assert order(reverse) == [ids[0], ids[1], ids[2]]  # no deadline stays last
    newest = await (await agent.http.get("/queue", params={"sort": "-number"})).text()
    assert order(newest) == list(reversed(ids))
    first = await (await agent.http.get("/queue", params={"sort": "number", "limit": "2"})).text()
    assert 'rel="next"' in first and f'data-ticket-id="{ids[2]}"' not in first
    second = await (await agent.http.get("/queue", params={"sort": "number", "limit": "2", "page": "1"})).text()
    assert f'data-ticket-id="{ids[2]}"' in second and 'rel="prev"' in second
    bad = await agent.http.get("/api/v1/tickets", params={"sort": "password"})
    assert bad.status == 400
    api = await agent.api("GET", "/api/v1/tickets?sort=-number&limit=1")
    assert [t["id"] for t in api["tickets"]] == [ids[2]]
