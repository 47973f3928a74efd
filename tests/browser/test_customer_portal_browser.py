"""In real headless Chromium, in Chinese: a customer finds a help article while typing a
request, still sends it, signs in with the one-time link (read from the mailbox the SMTP sink
delivered it to), sees the agent's reply, rates it and answers. Screenshots under
``artifacts/screenshots/``."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from mail_fixtures import eventually, fetch_all
from sqlalchemy import select

from agent_ui.app import create_app
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.settings import MailboxSettings
from config.services import Services
from core.auth import Actor
from core.records import EntryKind, Ticket, TimelineEntry
from core.users import add_user
from knowledge.transfer import import_samples
from routing.records import TicketRating

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LINK = re.compile(r"https?://[^\s]+/help/sign-in/[A-Za-z0-9_-]+")


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
async def server(mail_services: Services, channel: EmailChannel) -> AsyncIterator[TestServer]:
    app = create_app(mail_services)
    app[EMAIL_CHANNEL] = channel
    test_server = TestServer(app, host="127.0.0.1", port=0)
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


async def mails_at_least(box: MailboxSettings, count: int) -> list[bytes] | None:
    mails = await fetch_all(box)
    return mails if len(mails) >= count else None


async def test_a_customer_asks_in_chinese_signs_in_by_link_reads_the_reply_rates_and_answers(
    server: TestServer, browser: Any, mail_services: Services, channel: EmailChannel, customer_box: MailboxSettings,
) -> None:
    async with mail_services.db.transaction() as session:
        await import_samples(session, mail_services.renderer)
        agent = await add_user(session, "mei", "correct horse battery", "Mei", ["agent"])
    url = str(server.make_url("")).rstrip("/")
    page = await browser.new_page()

    # the help centre in Chinese, then the request form, where typing suggests the article
    await page.goto(url + "/help?lang=zh_CN&q=退款")
    assert "退款需要多长时间？" in await page.content()
    await shoot(page, "portal-1-help-zh")
    await page.click("a[href^='/help/new']")
    await page.fill("#request-email", customer_box.address)
    await page.fill("#request-name", "王芳")
    await page.fill("#request-subject", "退款")
    await page.fill("#request-message", "我的退款需要多长时间？")
    await page.wait_for_selector(".suggested-articles li a")
    assert "退款需要多长时间？" in await page.inner_text(".suggested-articles")
    assert "这解决了我的问题" in await page.inner_text(".suggested-articles")
    await shoot(page, "portal-2-request-with-suggestion")
    await page.wait_for_timeout(2_100)  # a person takes a moment; the form refuses instant posts
    await page.click("form.request-form button[type=submit]")
    await page.wait_for_selector("text=请求已发送")
    await shoot(page, "portal-3-request-sent")

    async with mail_services.db.transaction() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
        await mail_services.desk.assign(session, Actor.system(), ticket.id, agent.id)
        await mail_services.desk.append(session, ticket.id, EntryKind.EMAIL_OUT,
                                        {"text": "您好，退款将在 5 个工作日内到账。"}, author_id=agent.id)
        await mail_services.desk.add_note(session, Actor.system(), ticket.id, "内部备注：不要给客户看")
        await mail_services.desk.set_status(session, Actor.system(), ticket.id, "solved")

    # sign in by the link mailed through the real SMTP sink
    await page.goto(url + "/help/sign-in?lang=zh_CN")
    await page.fill("#sign-in-email", customer_box.address)
    await page.click("form button[type=submit]")
    await page.wait_for_selector(".sign-in-sent")
    await channel.outbox.run_once()
    mails = await eventually(lambda: mails_at_least(customer_box, 2))  # the acknowledgement and the link
    bodies = [email.message_from_bytes(m, policy=policy.default).get_body(("plain",)).get_content() for m in mails]  # type: ignore[union-attr]
    link = next(match.group(0) for body in bodies if (match := LINK.search(body)))
    await page.goto(link)
    await shoot(page, "portal-4-sign-in-link")
    await page.click("button.sign-in")
    await page.wait_for_selector("ul.my-requests")
    await page.click("ul.my-requests a")
    await page.wait_for_selector("text=退款将在 5 个工作日内到账")
    assert "内部备注" not in await page.content()
    await shoot(page, "portal-5-thread-with-reply")

    await page.click("a.rate-good")
    await page.wait_for_selector(".rated-good")
    await page.fill("#rating-comment", "谢谢，很快！")
    await page.click("form button[type=submit]")
    await page.wait_for_selector(".commented")
    await shoot(page, "portal-6-rated")

    await page.goto(url + f"/help/requests/{ticket.id}?lang=zh_CN")
    await page.fill("#customer-reply", "收到，谢谢！")
    await page.click("form.customer-reply button[type=submit]")
    await page.wait_for_selector("text=收到，谢谢！")
    await shoot(page, "portal-7-answered")

    async with mail_services.db.session() as session:
        rating = (await session.execute(select(TicketRating))).scalar_one()
        last = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket.id,
                                                                  TimelineEntry.kind == EntryKind.EMAIL_IN.value)
                                      .order_by(TimelineEntry.id.desc()))).scalars().first()
        reopened = await session.get(Ticket, ticket.id)
    assert rating.rating == "good" and rating.comment == "谢谢，很快！" and rating.agent_id == agent.id
    assert last is not None and last.payload["text"] == "收到，谢谢！"
    assert reopened is not None and reopened.status == "open"
