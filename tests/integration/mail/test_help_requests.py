"""The help centre's request form: a customer's request becomes a ticket through the routing
seam with the acknowledgement mail (through the real SMTP sink, into the customer's mailbox);
robots, hurried forms and floods are refused with a clear message and nothing stored; a
suggested article that solved the question counts a deflection and sends nothing."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from mail_fixtures import eventually, fetch_all
from sqlalchemy import func, select

from agent_ui.app import create_app
from agent_ui.help.request_views import REQUEST_GUARD
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.records import MailAttachment, MailMessage
from channels.replies import ReplyDraft
from channels.settings import MailboxSettings
from channels.sink import MailSink
from config.services import Services
from core.auth import Actor
from core.clock import Clock, ManualClock
from core.records import Customer, OutboxMessage, Ticket, TimelineEntry
from knowledge.deflections import deflection_counts, deflection_report
from knowledge.records import KnowledgeArticle
from knowledge.transfer import import_samples

TOKEN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture
def clock() -> Clock:
    return ManualClock()


@pytest.fixture
async def portal(mail_services: Services, channel: EmailChannel) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(mail_services)
    app[EMAIL_CHANNEL] = channel
    async with TestClient(TestServer(app)) as client:
        yield client


async def form_token(client: TestClient, lang: str = "es") -> str:  # type: ignore[type-arg]
    page = await (await client.get("/help/new", params={"lang": lang})).text()
    match = TOKEN.search(page)
    assert match, page
    return match.group(1)


def request_form(token: str, sender: str, **extra: str) -> FormData:
    form = FormData()
    fields = {"token": token, "email": sender, "name": "Lucía", "subject": "Pedido sin entregar",
              "message": "Hola, mi pedido <b>no</b> ha llegado. Gracias.", "order_number": "A-1001",
              "phone": "+34 600 000 000", "website": "", **extra}
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def tickets(services: Services) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_a_request_becomes_a_ticket_and_the_customer_gets_the_acknowledgement(
    portal: TestClient, mail_services: Services, channel: EmailChannel, customer_box: MailboxSettings,  # type: ignore[type-arg]
    clock: ManualClock, sink: MailSink,
) -> None:
    token = await form_token(portal)
    clock.advance(timedelta(seconds=30))
    form = request_form(token, customer_box.address.upper())
    form.add_field("attachments", b"%PDF-1.4 receipt", filename="recibo.pdf", content_type="application/pdf")
    response = await portal.post("/help/new?lang=es", data=form)
    page = await response.text()
    assert response.status == 200 and "Solicitud enviada" in page, page
    async with mail_services.db.session() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket.id)
                                       .order_by(TimelineEntry.id))).scalars().first()
        customer = await session.get(Customer, ticket.customer_id)
        message = (await session.execute(select(MailMessage).where(MailMessage.direction == "in"))).scalar_one()
        files = (await session.execute(select(MailAttachment))).scalars().all()
        ack = (await session.execute(select(OutboxMessage))).scalar_one()
    assert ticket.channel == "web" and ticket.subject == "Pedido sin entregar" and ticket.tag in page
    assert entry is not None and entry.payload["order_number"] == "A-1001" and "<b>no</b>" in entry.payload["text"]
    assert customer is not None and customer.language == "es" and customer.name == "Lucía"
    assert message.mailbox == "support" and message.uid is None and [(f.filename, f.data) for f in files] == [("recibo.pdf", b"%PDF-1.4 receipt")]
    assert ack.recipient == customer_box.address.lower() and "Hemos recibido su mensaje" in ack.subject
    # the agent sees it on the ticket page like a mail, with its file
    from core.users import add_user

    async with mail_services.db.transaction() as session:
        await add_user(session, "alice", "correct horse battery", "Alice", ["agent"])
    login = await portal.post("/login", data={"login": "alice", "password": "correct horse battery"}, allow_redirects=False)
    assert login.status == 303
    staff_page = await portal.get(f"/tickets/{ticket.id}")
    staff_text = await staff_page.text()
    assert staff_page.status == 200 and "recibo.pdf" in staff_text and "&lt;b&gt;no&lt;/b&gt;" in staff_text
    await channel.outbox.run_once()
    delivered = await eventually(lambda: fetch_all(customer_box))
    subject = str(make_header(decode_header(email.message_from_bytes(delivered[0])["Subject"])))
    assert ticket.tag in subject and "Pedido sin entregar" in subject
    # the agent answers by mail, as on any ticket: to the address the customer typed
    sent = await channel.replies.send(Actor.system(), ticket.id, ReplyDraft(f"Re: {ticket.subject}", "Llega mañana."))
    await channel.outbox.run_once()
    replies = await eventually(lambda: _at_least(customer_box, 2))
    assert sent.entry.kind == "email_out" and b"Llega ma" in replies[-1]


async def test_robots_hurried_forms_and_floods_are_refused_and_nothing_is_stored(
    portal: TestClient, mail_services: Services, clock: ManualClock,  # type: ignore[type-arg]
) -> None:
    token = await form_token(portal, "en")
    hurried = await portal.post("/help/new", data=request_form(token, "ana@example.com"))
    assert hurried.status == 400 and "too fast" in await hurried.text()
    clock.advance(timedelta(seconds=5))
    robot = await portal.post("/help/new", data=request_form(token, "ana@example.com", website="http://spam"))
    assert robot.status == 400 and "looked automated" in await robot.text()
    forged = await portal.post("/help/new", data=request_form(token.split(".")[0] + ".forged", "ana@example.com"))
    assert forged.status == 400 and "too old" in await forged.text()
    bad_address = await portal.post("/help/new", data=request_form(token, "not-an-address"))
    assert bad_address.status == 400 and 'aria-invalid="true"' in await bad_address.text()
    stale = await form_token(portal, "en")
    clock.advance(timedelta(hours=5))
    expired = await portal.post("/help/new", data=request_form(stale, "ana@example.com"))
    assert expired.status == 400 and "too old" in await expired.text()
    assert await tickets(mail_services) == 0
    async with mail_services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0

    portal.server.app[REQUEST_GUARD].per_address = 1
    token = await form_token(portal, "zh_CN")
    clock.advance(timedelta(seconds=5))
    first = await portal.post("/help/new?lang=zh_CN", data=request_form(token, "ana@example.com"))
    assert first.status == 200 and "请求已发送" in await first.text()
    flood = await portal.post("/help/new?lang=zh_CN", data=request_form(token, "Ana@Example.com"))
    assert flood.status == 429 and "来自您地址的请求太多" in await flood.text()
    assert await tickets(mail_services) == 1


async def test_a_suggested_article_that_solved_the_question_counts_a_deflection(
    portal: TestClient, mail_services: Services,  # type: ignore[type-arg]
) -> None:
    async with mail_services.db.transaction() as session:
        await import_samples(session, mail_services.renderer)
    found = await (await portal.get("/api/v1/help/articles", params={"q": "退款 多长时间", "lang": "zh_CN"})).json()
    article = found["articles"][0]
    assert article["title"] == "退款需要多长时间？"
    for expected in (1, 2):
        solved = await portal.post(f"/help/{article['id']}/solved")
        assert solved.status == 200 and (await solved.json())["deflections"] == expected
    async with mail_services.db.session() as session:
        hidden = (await session.execute(select(KnowledgeArticle.id).where(KnowledgeArticle.published.is_(False)))).scalars().first()
        assert await deflection_counts(session) == {article["id"]: 2}
        assert await deflection_report(session, Actor.system()) == [("退款需要多长时间？", 2)]
    assert hidden is not None and (await portal.post(f"/help/{hidden}/solved")).status == 404
    assert (await portal.post(f"/help/{article['id']}/solved", headers={"Origin": "https://evil.example"})).status == 403
    assert await tickets(mail_services) == 0
    form = await (await portal.get("/help/new", params={"lang": "zh_CN"})).text()
    assert "向我们提交请求" in form and "/static/help_request.js" in form and 'data-lang="zh_CN"' in form


async def _at_least(box: MailboxSettings, count: int) -> list[bytes] | None:
    mails = await fetch_all(box)
    return mails if len(mails) >= count else None
