"""Customers sign in to the help centre by a one-time link (mailed through the real SMTP sink)
and see only their own requests: public messages, never notes; their reply lands on the ticket."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from mail_fixtures import eventually, fetch_all
from sqlalchemy import select

from agent_ui.app import create_app
from agent_ui.help.portal_views import CUSTOMER_COOKIE
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.records import CustomerSignInLink
from channels.settings import MailboxSettings
from channels.web_requests import WebRequest
from config.services import Services
from core.auth import Actor
from core.clock import Clock, ManualClock
from core.records import EntryKind, OutboxMessage, Ticket, TimelineEntry
from routing import Contact

LINK = re.compile(r"/help/sign-in/([A-Za-z0-9_-]+)")


@pytest.fixture
def clock() -> Clock:
    return ManualClock()


@pytest.fixture
async def portal(mail_services: Services, channel: EmailChannel) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(mail_services)
    app[EMAIL_CHANNEL] = channel
    async with TestClient(TestServer(app)) as client:
        yield client


async def mailed_link(channel: EmailChannel, box: MailboxSettings, count: int) -> str:
    await channel.outbox.run_once()
    mails = await eventually(lambda: _at_least(box, count))
    text = email.message_from_bytes(mails[-1], policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = LINK.search(text)
    assert match, text
    return match.group(1)


async def _at_least(box: MailboxSettings, count: int) -> list[bytes] | None:
    mails = await fetch_all(box)
    return mails if len(mails) >= count else None


async def test_a_customer_signs_in_by_link_and_sees_only_their_own_requests(
    portal: TestClient, mail_services: Services, channel: EmailChannel, customer_box: MailboxSettings,  # type: ignore[type-arg]
    clock: ManualClock,
) -> None:
    mine = await channel.web_requests.submit(WebRequest("Parcel late", "Where is my parcel?", customer_box.address, "Sam"))
    theirs = await channel.web_requests.submit(WebRequest("Secret matter", "Not yours", "other@example.com", "Eve"))
    desk = mail_services.desk
    async with mail_services.db.transaction() as session:
        customer_id = (await session.get(Ticket, mine.ticket_id)).customer_id  # type: ignore[union-attr]
        await desk.add_note(session, Actor.system(), mine.ticket_id, "INTERNAL: customer is difficult")
        await desk.append(session, mine.ticket_id, EntryKind.EMAIL_OUT, {"text": "Your parcel ships tomorrow."})
        await desk.accept(session, Contact(channel="voice", customer_id=customer_id, address="+15550100"),
                          EntryKind.CALL, {"number": "+15550100"})
    await channel.outbox.run_once()  # the acknowledgement
    await eventually(lambda: _at_least(customer_box, 1))

    known = await portal.post("/help/sign-in", data={"email": customer_box.address})
    unknown = await portal.post("/help/sign-in", data={"email": "nobody@example.org"})
    assert known.status == unknown.status == 200 and await known.text() == await unknown.text()
    async with mail_services.db.session() as session:
        links = (await session.execute(select(CustomerSignInLink))).scalars().all()
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.payload["kind"].as_string() == "customer-sign-in"))).scalars().all()
    assert len(links) == 1 and len(rows) == 1 and rows[0].recipient == customer_box.address
    token = await mailed_link(channel, customer_box, 2)
    assert links[0].token_hash != token and token not in links[0].token_hash  # only the hash is kept

    assert (await portal.get(f"/help/sign-in/{token}")).status == 200  # a button: nothing used up yet
    assert (await portal.post("/help/sign-in/forged-token-value")).status == 404
    assert (await portal.get("/help/requests", allow_redirects=False)).status == 303
    signed_in = await portal.post(f"/help/sign-in/{token}", allow_redirects=False)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/help/requests"
    assert (await portal.post(f"/help/sign-in/{token}", allow_redirects=False)).status == 404  # single use

    listing = await (await portal.get("/help/requests")).text()
    assert "Parcel late" in listing and "Secret matter" not in listing
    assert (await portal.get(f"/help/requests/{theirs.ticket_id}")).status == 404
    page = await (await portal.get(f"/help/requests/{mine.ticket_id}")).text()
    assert "Where is my parcel?" in page and "Your parcel ships tomorrow." in page and "INTERNAL" not in page
    assert "Phone call on" in page  # the call joined the open ticket: shown as a call, nothing more
    assert "+15550100" not in page
    # the customer's cookie opens no staff page or API
    assert (await portal.get("/queue", allow_redirects=False)).status in (302, 303)
    assert (await portal.get(f"/api/v1/tickets/{mine.ticket_id}")).status == 401

    async with mail_services.db.transaction() as session:
        await desk.set_status(session, Actor.system(), mine.ticket_id, "solved")
    forged = await portal.post(f"/help/requests/{mine.ticket_id}/reply", data={"message": "x", "customer_csrf": "no"})
    assert forged.status == 403
    csrf = re.search(r'name="customer_csrf" value="([^"]+)"', page)
    assert csrf
    sent = await portal.post(f"/help/requests/{mine.ticket_id}/reply", allow_redirects=False,
                             data={"message": "Thanks, <b>but</b> it did not arrive.", "customer_csrf": csrf.group(1)})
    assert sent.status == 303
    refused = await portal.post(f"/help/requests/{theirs.ticket_id}/reply", data={"message": "hi", "customer_csrf": csrf.group(1)})
    assert refused.status == 404
    async with mail_services.db.session() as session:
        ticket = await session.get(Ticket, mine.ticket_id)
        last = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == mine.ticket_id,
                                                                  TimelineEntry.kind == EntryKind.EMAIL_IN.value)
                                      .order_by(TimelineEntry.id.desc()))).scalars().first()
        other = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == theirs.ticket_id))).scalars().all()
    assert ticket is not None and ticket.status == "open"
    assert last is not None and last.payload["text"] == "Thanks, <b>but</b> it did not arrive."
    assert all("hi" != e.payload.get("text") for e in other)
    page = await (await portal.get(f"/help/requests/{mine.ticket_id}")).text()
    assert "Thanks, &lt;b&gt;but&lt;/b&gt; it did not arrive." in page

    # an expired link is refused; the cookie stops working after signing out
    await portal.post("/help/sign-in", data={"email": customer_box.address})
    late = await mailed_link(channel, customer_box, 3)
    clock.advance(timedelta(minutes=31))
    assert (await portal.post(f"/help/sign-in/{late}", allow_redirects=False)).status == 404
    # a flood of link requests to one address mails no more, and the page says the same
    for _ in range(3):
        flood = await portal.post("/help/sign-in", data={"email": customer_box.address})
        assert flood.status == 200 and await flood.text() == await unknown.text()
    async with mail_services.db.session() as session:
        sent_links = (await session.execute(select(CustomerSignInLink))).scalars().all()
    assert len(sent_links) == 3  # the per-address limit (3 an hour) was reached
    cookie = portal.session.cookie_jar.filter_cookies(portal.make_url("/help/requests")).get(CUSTOMER_COOKIE)
    assert cookie is not None
    await portal.post("/help/sign-out", data={"customer_csrf": csrf.group(1)})
    assert (await portal.get("/help/requests", allow_redirects=False)).status == 303


async def test_a_solved_ticket_is_rated_once_by_a_signed_link_on_the_timeline_and_in_the_reports(
    portal: TestClient, mail_services: Services, channel: EmailChannel, clock: ManualClock,  # type: ignore[type-arg]
) -> None:
    from core.users import add_user
    from routing.records import TicketRating
    from routing.reports import DateRange
    from routing.satisfaction_report import csat_report
    from routing.tags import tags_of

    request = await channel.web_requests.submit(WebRequest("Broken kettle", "It leaks.", "kim@example.com", "Kim"))
    desk = mail_services.desk
    async with mail_services.db.transaction() as session:
        agent = await add_user(session, "alice", "correct horse battery", "Alice", ["agent"])
        await desk.assign(session, Actor.system(), request.ticket_id, agent.id)
    # the customer signs in (the link read from the outbox row, as the sink would deliver it)
    await portal.post("/help/sign-in", data={"email": "kim@example.com"})
    async with mail_services.db.session() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "kim@example.com",
                                                                 OutboxMessage.payload["kind"].as_string() == "customer-sign-in"))).scalar_one()
    token = LINK.search(row.body)
    assert token
    await portal.post(f"/help/sign-in/{token.group(1)}")
    page = await (await portal.get(f"/help/requests/{request.ticket_id}")).text()
    assert "/help/rate/" not in page  # not solved yet: nothing to rate
    async with mail_services.db.transaction() as session:
        await desk.set_status(session, Actor.system(), request.ticket_id, "solved")
    page = await (await portal.get(f"/help/requests/{request.ticket_id}")).text()
    links = dict(re.findall(r'class="rate rate-(good|bad)" href="([^"]+)"', page))
    assert set(links) == {"good", "bad"}
    bad = links["bad"].replace("&amp;", "&")
    forged = re.sub(r"sig=\w+", "sig=" + "0" * 32, bad)
    assert (await portal.get(forged)).status == 404
    assert (await portal.get(bad.replace(f"/rate/{request.ticket_id}/", f"/rate/{request.ticket_id + 1}/"))).status == 404
    rated = await portal.get(bad)
    assert rated.status == 200 and "Thank you for your rating" in await rated.text()
    again = await portal.get(links["good"].replace("&amp;", "&"))
    assert "already rated" in await again.text()
    commented = await portal.post(bad, data={"comment": "Still <b>leaking</b>"})
    assert commented.status == 200 and "comment was received" in await commented.text()
    async with mail_services.db.session() as session:
        ratings = (await session.execute(select(TicketRating))).scalars().all()
        ticket = await session.get(Ticket, request.ticket_id)
        entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == request.ticket_id,
                                                                     TimelineEntry.kind == EntryKind.RATING.value))).scalars().all()
        tags = await tags_of(session, request.ticket_id)
        span = DateRange.parse(None, None, clock.now().date(), ZoneInfo("UTC"))
        report = await csat_report(session, Actor.system(), span)
    assert [(r.rating, r.comment, r.agent_id) for r in ratings] == [("bad", "Still <b>leaking</b>", agent.id)]
    assert ticket is not None and ticket.category == "complaint" and "bad-rating" in tags
    assert [e.payload["rating"] for e in entries] == ["bad", "bad"] and entries[1].payload["comment"] == "Still <b>leaking</b>"
    assert [(r.name, r.good, r.bad, r.csat) for r in report.agents] == [("Alice", 0, 1, 0.0)]
    assert [(r.name, r.bad) for r in report.queues] == [(ticket.queue, 1)] and report.total.rated == 1
    page = await (await portal.get(f"/help/requests/{request.ticket_id}")).text()
    assert "/help/rate/" not in page and "Your rating" in page
    clock.advance(timedelta(days=15))
    assert (await portal.get(links["good"].replace("&amp;", "&"))).status == 404  # the link expired
    # the agent sees the rating on the ticket's timeline
    login = await portal.post("/login", data={"login": "alice", "password": "correct horse battery"}, allow_redirects=False)
    assert login.status == 303
    staff = await (await portal.get(f"/tickets/{request.ticket_id}")).text()
    assert "Customer rating" in staff and "rating-bad" in staff and "Still &lt;b&gt;leaking&lt;/b&gt;" in staff
