"""Issue 16's "done means" as one journey in real headless Chromium. In Chinese, a customer finds a
help article while typing a request, still sends it, signs in with the one-time link (read from
the mailbox the SMTP sink delivered it to), sees the agent's reply, rates it good and answers;
a second request, with a photo, is solved and rated bad from the rating mail's one-click link.
A supervisor sees both ratings in the CSAT report and the complaint (category bad-rating, the
ticket in the drill-down); an admin downloads the customer's archive from the privacy page (the
test compares it with every row the database holds about them) and erases them by typing the
name, after which none of their words is left and the report figures are unchanged.
Screenshots under ``artifacts/screenshots/``."""

from __future__ import annotations

import email
import json
import re
import zipfile
from collections.abc import AsyncIterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from mail_fixtures import eventually, fetch_all
from privacy_checks import archive_keys, held_in_database, missing_from_archive, personal_leftovers
from sqlalchemy import func, select
from web_fixtures import PASSWORD

from agent_ui.app import create_app
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.settings import MailboxSettings
from config.services import Services
from core.auth import Actor
from core.records import CustomerEmail, EntryKind, Ticket, TimelineEntry
from core.users import add_user
from knowledge.transfer import import_samples
from privacy import VIEW_LOG
from privacy.plugin import plugin as privacy_plugin
from routing.records import TicketRating

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LINK = re.compile(r"https?://[^\s]+/help/sign-in/[A-Za-z0-9_-]+")
PHOTO = b"\x89PNG photo of the broken kettle, sent by Wang Fang"


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
async def server(mail_services: Services, channel: EmailChannel) -> AsyncIterator[TestServer]:
    app = create_app(mail_services)
    app[EMAIL_CHANNEL] = channel
    app.cleanup_ctx.append(privacy_plugin(mail_services))  # the view log, as the full server has it
    test_server = TestServer(app, host="127.0.0.1", port=0)
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


async def mails_at_least(box: MailboxSettings, count: int) -> list[bytes] | None:
    mails = await fetch_all(box)
    return mails if len(mails) >= count else None


def bodies_of(mails: list[bytes]) -> list[str]:
    return [email.message_from_bytes(m, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for m in mails]


async def console_login(browser: Any, url: str, login: str) -> Any:
    """A new browser (own cookies) logged into the console as ``login``."""
    page = await browser.new_page()
    await page.goto(url + "/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/queue")
    return page


async def report_figures(page: Any, url: str, bad_ticket_id: int) -> dict[str, str]:
    """What a supervisor reads off the reports: CSAT overall and for the agent, the complaints in
    total and in the bad-rating category, and the drill-down's tickets."""
    await page.goto(url + "/reports")
    figures = {"csat": await page.inner_text(".csat-total"),
               "csat-agent": await page.inner_text("tr.csat-agent:has-text('Mei')"),
               "categories": await page.inner_text("table.report-categories")}
    await page.goto(url + "/reports/complaints")
    figures["complaints"] = await page.inner_text(".complaints-total")
    figures["bad-rating"] = await page.inner_text(".report-complaints-category tr[data-key='bad-rating'] a.drill")
    await page.click(".report-complaints-category tr[data-key='bad-rating'] a.drill")
    await page.wait_for_selector("#drill-down")
    figures["drilled"] = " ".join(sorted(await page.eval_on_selector_all(
        "#drill-down tr[data-ticket-id]", "rows => rows.map(r => r.dataset.ticketId)")))
    assert figures["drilled"] == str(bad_ticket_id)
    return figures


async def test_a_customer_asks_in_chinese_rates_good_and_bad_and_an_admin_exports_and_erases_them(
    server: TestServer, browser: Any, mail_services: Services, channel: EmailChannel, customer_box: MailboxSettings,
) -> None:
    async with mail_services.db.transaction() as session:
        await import_samples(session, mail_services.renderer)
        agent = await add_user(session, "mei", PASSWORD, "Mei", ["agent"])
        await add_user(session, "lin", PASSWORD, "Lin", ["supervisor"])
        await add_user(session, "zhao", PASSWORD, "Zhao", ["admin"])
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
    bodies = bodies_of(mails)
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

    # a second request, with a photo, signed in this time; solved, and rated bad from the rating mail
    await page.goto(url + "/help/new?lang=zh_CN")
    await page.fill("#request-email", customer_box.address)
    await page.fill("#request-name", "王芳")
    await page.fill("#request-subject", "水壶坏了")
    await page.fill("#request-message", "新买的水壶漏水，请换一个。")
    await page.set_input_files("#request-attachments", {"name": "kettle.png", "mimeType": "image/png", "buffer": PHOTO})
    await page.wait_for_timeout(2_100)
    await page.click("form.request-form button[type=submit]")
    await page.wait_for_selector("text=请求已发送")
    async with mail_services.db.transaction() as session:
        second = (await session.execute(select(Ticket).where(Ticket.id != ticket.id))).scalar_one()
        await mail_services.desk.assign(session, Actor.system(), second.id, agent.id)
        await mail_services.desk.append(session, second.id, EntryKind.EMAIL_OUT,
                                        {"text": "很抱歉，我们不能更换。"}, author_id=agent.id)
        await mail_services.desk.set_status(session, Actor.system(), second.id, "solved")
    await channel.outbox.run_once()
    bad_link = re.compile(rf"https?://[^/\s]+(/help/rate/{second.id}/bad\?\S+)")

    async def rating_mail() -> str | None:
        return next((m.group(1) for b in bodies_of(await fetch_all(customer_box)) if (m := bad_link.search(b))), None)

    await page.goto(url + await eventually(rating_mail))
    await page.wait_for_selector(".rated-bad")
    await page.fill("#rating-comment", "太失望了，不会再买。")
    await page.click("form button[type=submit]")
    await page.wait_for_selector(".commented")
    await shoot(page, "portal-8-second-request-rated-bad")

    # a supervisor sees both ratings in CSAT and the complaint, with the ticket behind it
    supervisor = await console_login(browser, url, "lin")
    before = await report_figures(supervisor, url, second.id)
    assert re.search(r"2\D+50(\.0)?\s?%", before["csat"]), before["csat"]
    assert re.search(r"Mei\s+1\s+1\s+50(\.0)?\s?%", before["csat-agent"]), before["csat-agent"]
    assert re.search(r"\b1\b", before["complaints"]) and before["bad-rating"] == "1"
    assert "水壶坏了" in await supervisor.inner_text("#drill-down")
    await shoot(supervisor, "portal-9-complaint-report-drill-down")
    await supervisor.goto(url + "/reports")
    await shoot(supervisor, "portal-10-csat-report")

    # an admin opens the customer's page, then Privacy, and downloads everything held about them
    async with mail_services.db.session() as session:
        customer_id = (await session.execute(select(CustomerEmail.customer_id).where(
            CustomerEmail.address == customer_box.address))).scalar_one()
        counts_before = await report_counts(session, customer_id)
    admin = await console_login(browser, url, "zhao")
    await admin.goto(url + f"/customers/{customer_id}")
    await admin.click(f"a[href='/customers/{customer_id}/privacy']")
    await admin.wait_for_selector("#export-archive")
    await shoot(admin, "portal-11-privacy-page")
    await server.app[VIEW_LOG].flush()  # the admin's look at the page is written (within a second anyway)
    in_database = await held_in_database(mail_services.db, customer_id)  # before the export audits itself
    async with admin.expect_download() as started:
        await admin.click("#export-archive")
    download = await started.value
    archive = zipfile.ZipFile(str(await download.path()))
    in_archive = archive_keys(archive)
    assert {"customer_emails", "tickets", "timeline_entries", "mail_messages", "mail_attachments",
            "ticket_ratings", "record_views", "audit_log"} <= set(in_database)
    assert missing_from_archive(in_database, in_archive) == {}
    assert set(in_archive) == set(in_database) and all(in_archive[t] == in_database[t] for t in in_database)
    ratings = {r["rating"]: r["comment"] for r in json.loads(archive.read("tables/ticket_ratings.json"))}
    assert ratings == {"good": "谢谢，很快！", "bad": "太失望了，不会再买。"}
    photo = json.loads(archive.read("tables/mail_attachments.json"))[0]
    assert archive.read(photo["data"]["file"]) == PHOTO

    # ... and erases them, typing the name to confirm: none of their words is left, the figures stay
    personal = ["王芳", customer_box.address, "我的退款需要多长时间？", "收到，谢谢！", "新买的水壶漏水", "谢谢，很快！",
                "太失望了", "水壶坏了", "退款将在 5 个工作日内到账", "我们不能更换", PHOTO.decode("latin-1")[1:]]
    assert len(await personal_leftovers(mail_services.db, personal)) > len(personal)
    await admin.fill("input[name=confirmation]", "王芳")
    await admin.click("form.erase-customer button[type=submit]")
    await admin.wait_for_selector("#erased-notice")
    await shoot(admin, "portal-12-erased")
    assert await personal_leftovers(mail_services.db, personal) == []
    async with mail_services.db.session() as session:
        assert await report_counts(session, customer_id) == counts_before
    assert await report_figures(supervisor, url, second.id) == before
    await shoot(supervisor, "portal-13-complaints-after-erasure")


async def report_counts(session: Any, customer_id: int) -> dict[str, Any]:
    """The customer's tickets, ratings (good/bad) and complaints, as the reports count them."""
    tickets = select(Ticket.id).where(Ticket.customer_id == customer_id)
    return {
        "tickets": await session.scalar(select(func.count()).select_from(tickets.subquery())),
        "ratings": sorted((await session.execute(select(TicketRating.rating).where(
            TicketRating.ticket_id.in_(tickets)))).scalars()),
        "complaints": sorted((await session.execute(select(Ticket.complaint_category).where(
            Ticket.customer_id == customer_id, Ticket.complaint_category.is_not(None)))).scalars()),
    }
