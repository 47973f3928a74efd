"""The pages around complaints: admins keep the categories (a name per language), agents wrap up
a call over the API and the ticket shows it, and the wallboard shows today's CSAT and complaints."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from test_console_pages import form_post
from web_fixtures import WebSite

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, OutboxMessage, Ticket
from cti.records import CallRecord
from routing import Contact
from routing.ratings import rate_ticket, rating_of


async def test_admins_keep_the_complaint_categories_with_a_name_in_each_language(site: WebSite) -> None:
    admin = await site.login("admin")
    page = await admin.api("GET", "/admin/complaint-categories")
    assert 'data-category-key="bad-rating"' in page and "差评" in page
    status, location, _ = await form_post(admin, "/admin/complaint-categories", key="late-delivery",
                                          name_en="Late delivery", name_zh_CN="延迟送达", name_es="Entrega tardía", active="1")
    assert (status, location) == (303, "/admin/complaint-categories")
    refused = await admin.http.post("/admin/complaint-categories", data={
        "csrf_token": admin.csrf_token or "", "key": "rude", "name_en": "Rude", "name_zh_CN": "", "name_es": "Grosero"})
    assert refused.status == 400 and 'data-field="name_zh_CN"' in await refused.text()
    bad_key = await admin.http.post("/admin/complaint-categories", data={
        "csrf_token": admin.csrf_token or "", "key": "Not A Key!", "name_en": "x", "name_zh_CN": "x", "name_es": "x"})
    assert bad_key.status == 400
    status, _, _ = await form_post(admin, "/admin/complaint-categories", key="billing",  # deactivated: not offered
                                   name_en="Billing", name_zh_CN="账单费用", name_es="Facturación")
    agent = await site.login("agent")
    offered = {c["key"]: c for c in (await agent.api("GET", "/api/v1/complaint-categories"))["categories"]}
    assert offered["late-delivery"]["names"] == {"en": "Late delivery", "zh_CN": "延迟送达", "es": "Entrega tardía"}
    assert "billing" not in offered and "rude" not in offered
    await agent.api("GET", "/admin/complaint-categories", status=403)


async def test_an_agent_wraps_up_a_call_and_the_ticket_shows_it(site: WebSite) -> None:
    services, agent_id = site.services, site.users["agent"].id
    async with services.db.transaction() as session:
        accepted = await services.desk.accept(session, Contact("voice", None, subject="Call from +15550100"),
                                              EntryKind.CALL, {"number": "+15550100"})
        now = services.clock.now()
        session.add(CallRecord(pbx="pbx", linkedid="c-1", direction="inbound", number="+15550100", agent_id=agent_id,
                               started_at=now, answered_at=now, ended_at=now + timedelta(minutes=2), outcome="answered",
                               ticket_id=accepted.ticket.id))
    agent = await site.login("agent")
    refused = await agent.api("POST", "/api/v1/cti/calls/c-1/wrap-up", json={"outcome": "maybe"}, status=400)
    assert refused["details"]["field"] == "outcome"
    await agent.api("POST", "/api/v1/cti/calls/nope/wrap-up", json={"outcome": "resolved"}, status=404)
    done = await agent.api("POST", "/api/v1/cti/calls/c-1/wrap-up", status=201,
                           json={"outcome": "escalated", "category": "service", "note": "Rude courier", "product": ""})
    assert done["ticket_id"] == accepted.ticket.id
    await agent.api("POST", "/api/v1/cti/calls/c-1/wrap-up", json={"outcome": "resolved"}, status=409)
    page = await agent.api("GET", f"/tickets/{accepted.ticket.id}")
    assert "Wrap-up of the call" in page and "Escalated" in page and "Rude courier" in page
    assert re.search(r'class="complaint-category">Service<', page)  # the category's name, in the header and the entry


async def test_the_wallboard_shows_todays_csat_and_complaints(site: WebSite) -> None:
    services = site.services
    ids = []
    for subject in ("Kettle", "Toaster"):
        async with services.db.transaction() as session:
            accepted = await services.desk.accept(session, Contact("email", None, subject=subject), EntryKind.EMAIL_IN, {})
            ids.append(accepted.ticket.id)
    async with services.db.transaction() as session:
        for ticket_id, rating in zip(ids, ("good", "bad"), strict=True):
            await services.desk.set_status(session, Actor.system(), ticket_id, "solved")
            await rate_ticket(services.desk, session, ticket_id, rating)
    supervisor = await site.login("supervisor")
    board = await supervisor.api("GET", "/wallboard")
    assert re.search(r'data-figure="csat-today">50\.0\s?%<', board)
    assert 'data-figure="rated-today">2<' in board and 'data-figure="complaints-today">1<' in board


async def test_the_solved_mail_links_rate_the_ticket_and_offer_the_comment_box(site: WebSite) -> None:
    """The mail's links are signed with the key the help centre checks (one key, even unset)."""
    services = site.services
    async with services.db.transaction() as session:
        customer = await create_customer(session, Actor.system(), CustomerDraft(name="Kim", emails=["kim@example.com"]))
        accepted = await services.desk.accept(session, Contact("email", customer.id, subject="Kettle leaks"),
                                              EntryKind.EMAIL_IN, {"text": "It leaks"})
        await services.desk.set_status(session, Actor.system(), accepted.ticket.id, "solved")
    async with services.db.session() as session:
        mail = (await session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == accepted.ticket.id))).one()
    assert mail.payload["kind"] == "rating-request" and mail.recipient == "kim@example.com"
    bad = re.search(r"https?://[^/\s]+(/help/rate/\d+/bad\?\S+)", mail.body)
    assert bad, mail.body
    customer_browser = await site.anonymous()
    landed = await customer_browser.http.get(bad.group(1))
    page = await landed.text()
    assert landed.status == 200 and "Thank you for your rating" in page and 'name="comment"' in page
    commented = await customer_browser.http.post(bad.group(1), data={"comment": "Still leaking"}, headers={"Origin": site.url})
    assert commented.status == 200 and "comment was received" in await commented.text()
    async with services.db.session() as session:
        ticket = await session.get(Ticket, accepted.ticket.id)
        rating = await rating_of(session, accepted.ticket.id)
    assert rating is not None and (rating.rating, rating.comment) == ("bad", "Still leaking")
    assert ticket is not None and ticket.complaint_category == "bad-rating"
