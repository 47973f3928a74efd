"""In real headless Chromium, the whole reply composer: full width; a template found by search
(one added after the mail came) and suggestions recomputed; a bad Cc shown at its field; the
toolbar's bold; a knowledge article's public link inserted; a file attached; the draft kept
across a reload; the reply sent with Cc/Bcc and the file on the timeline. Then the same page
in Chinese on a web ticket (no mail, so no stored suggestions). Screenshots are saved under
``artifacts/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from web_fixtures import WebSite, console_page

from channels.plugin import EMAIL_CHANNEL
from channels.samples import compose
from config.settings import Settings, load_settings
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import User
from knowledge.articles import create_article
from knowledge.drafts import ArticleDraft, TemplateDraft
from knowledge.templates import create_template

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def settings(database_url: str) -> Settings:
    mailbox = {"name": "support", "address": "support@example.com", "username": "x", "password": "x", "fetch": False}
    return load_settings(None, database_url=database_url, mailboxes=[mailbox],
                         smtp={"host": "127.0.0.1", "port": 9}, web={"base_url": "https://help.example.com",
                                                                      "cookie_secure": False})


async def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def _knowledge(site: WebSite) -> int:
    ops = Actor.of(site.users["ops"])
    async with site.services.db.transaction() as session:
        await create_template(session, ops, TemplateDraft(name="Refund on its way", subject="Your refund",
                                                          body="Dear {{ customer.name or 'customer' }}, your refund is on its way.",
                                                          keywords=[{"phrase": "refund"}, {"phrase": "退款"}]),  # type: ignore[list-item]
                              site.services.renderer)
        article = await create_article(session, ops, ArticleDraft(title="How refunds work", body="Refunds take 5 days.",
                                                                 published=True))
    site.services.templates.invalidate()
    return article.id


async def test_the_agent_composes_a_full_reply_in_english(site: WebSite, browser: Any) -> None:
    channel = site.server.app[EMAIL_CHANNEL]  # type: ignore[index]
    result = await channel.ingest_raw("support", compose(sender="ana@example.com", sender_name="Ana", subject="Refund",
                                                         body="Where is my refund?"))
    article_id = await _knowledge(site)  # the template exists only since after the mail came
    page = await console_page(site, browser, "agent")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{site.url}/tickets/{result.ticket_id}")

    column = await page.locator(".ticket-main").bounding_box()
    box = await page.locator("#reply-composer").bounding_box()
    body_box = await page.locator("#reply-form textarea").bounding_box()
    assert column and box and body_box
    assert box["width"] >= column["width"] * 0.95 and body_box["width"] >= column["width"] * 0.85
    assert body_box["height"] >= 200

    await page.click('[data-format="italic"]')  # the toolbar, with nothing selected: a sample to type over
    await expect(page.locator("#reply-form textarea")).to_have_value("*italic text*")
    await page.fill("#reply-form textarea", "")
    await page.fill("#template-q", "refund")
    await expect(page.locator("#template-results .use-template")).to_have_text(["Refund on its way"])
    await page.click("#recompute-suggestions")
    await expect(page.locator("#template-results .suggestion mark")).to_have_text(["refund"])
    await page.click("#template-results .use-template")
    await expect(page.locator("#reply-form textarea")).to_have_value(re.compile("your refund is on its way"))

    await page.fill("#reply-form input[name=cc]", "boss@example.com, not-an-address")
    await page.fill("#reply-form input[name=bcc]", "audit@example.com")
    await page.click("#send-reply")
    await expect(page.locator('.field-error[data-field="cc"]')).to_contain_text("not-an-address")
    await _shot(page, "reply-composer-bad-cc-en")

    await page.fill("#reply-form input[name=cc]", "boss@example.com")
    textarea = page.locator("#reply-form textarea")
    await textarea.press("End")
    await textarea.press("Control+End")
    await textarea.type("\nThanks for waiting")
    await textarea.press("Shift+Home")
    await textarea.press("Control+b")
    await expect(textarea).to_have_value(re.compile(r"\*\*Thanks for waiting\*\*"))
    await textarea.press("Control+End")
    await textarea.type("\n")
    await page.click(".article-picker summary")
    await page.fill("#article-q", "refunds")
    async with page.expect_response(lambda r: r.url.endswith("/reply-draft") and r.request.method == "PUT"
                                    and "How refunds work" in (r.request.post_data or "")):
        await page.click(".insert-article-link")
    await expect(textarea).to_have_value(re.compile(rf"\[How refunds work\]\(https://help\.example\.com/help/{article_id}\)"))
    await expect(page.locator(".composer-state")).to_have_text("Draft saved")
    await page.reload()
    await expect(page.locator("#reply-form textarea")).to_have_value(re.compile(r"\*\*Thanks for waiting\*\*\n\[How refunds work\]"))
    assert await page.input_value("#reply-form input[name=cc]") == "boss@example.com"
    assert await page.input_value("#reply-form input[name=bcc]") == "audit@example.com"

    await page.set_input_files("#reply-form input[type=file]", files=[
        {"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"refund 42"}])
    await _shot(page, "reply-composer-en")
    await page.click("#send-reply")
    entry = page.locator("#timeline .entry-email_out").last
    await expect(entry).to_contain_text("boss@example.com")
    await expect(entry).to_contain_text("audit@example.com")
    await expect(entry.locator(".attachments a")).to_have_text("receipt.txt")
    await expect(entry.locator(".entry-body")).to_contain_text(f"How refunds work <https://help.example.com/help/{article_id}>")
    await entry.locator(".entry-html summary").click()
    await expect(entry.locator(".mail-html strong")).to_have_text("Thanks for waiting")
    await expect(page.locator("#reply-form textarea")).to_have_value("")  # the draft went with the reply
    await _shot(page, "reply-composer-sent-en")
    await page.close()


async def test_a_web_ticket_in_chinese_gets_suggestions_and_a_template(site: WebSite, browser: Any) -> None:
    await _knowledge(site)
    agent = Actor.of(site.users["agent"])
    async with site.services.db.transaction() as session:
        user = await session.get(User, site.users["agent"].id)
        assert user is not None
        user.language = "zh"
        customer = await create_customer(session, agent, CustomerDraft(name="李娜", emails=["li@example.cn"]))
        accepted = await site.services.desk.open_ticket(session, agent, "退款问题", "客户来电询问退款进度",
                                                        customer_id=customer.id)
        ticket_id = accepted.ticket.id
    page = await console_page(site, browser, "agent")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{site.url}/tickets/{ticket_id}")
    await expect(page.locator("#reply-composer h2")).to_have_text("邮件回复")
    await expect(page.locator("#reply-form")).to_contain_text("抄送")
    await expect(page.locator("#reply-form")).to_contain_text("密送")
    assert await page.input_value("#reply-form input[name=to]") == "li@example.cn"
    # no mail, so nothing was stored: the page asks for suggestions from the thread
    await expect(page.locator("#template-results .badge.suggested")).to_have_text(["推荐"])
    await expect(page.locator("#template-results .suggestion mark")).to_have_text(["退款"])
    await page.click("#template-results .use-template")
    await expect(page.locator("#reply-form textarea")).to_have_value(re.compile("李娜"))
    await _shot(page, "reply-composer-zh")
    await page.fill("#reply-form input[name=bcc]", "坏地址")
    await page.click("#send-reply")
    await expect(page.locator('.field-error[data-field="bcc"]')).to_contain_text("有地址无效")
    await page.fill("#reply-form input[name=bcc]", "")
    await page.locator("#reply-form textarea").press("Control+Enter")
    await expect(page.locator("#timeline .entry-email_out").last).to_contain_text("李娜")
    await _shot(page, "reply-composer-sent-zh")
    await page.close()
