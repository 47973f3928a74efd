"""In real headless Chromium: the agent picks a suggested template, edits it, sends; the reply is on the timeline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession
from web_fixtures import WebSite, console_page

from channels.plugin import EMAIL_CHANNEL
from channels.samples import compose
from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.clock import Clock
from knowledge.suggestions import RenderedReply, Suggestion, TemplateLibrary

pytestmark = pytest.mark.browser


class DeliveryTemplates(TemplateLibrary):
    async def suggest(self, session: AsyncSession, subject: str, body: str, language: str | None = None, limit: int = 3) -> list[Suggestion]:
        return [Suggestion(3, "Parcel delayed", 1.0, ("物流",))]

    async def render(self, session: AsyncSession, template_id: int, context: dict[str, Any]) -> RenderedReply:
        return RenderedReply(template_id, "Your parcel", f"您好 {context['customer']['name']}，您的包裹已发出。")


@pytest.fixture
def settings(database_url: str) -> Settings:
    mailbox = {"name": "support", "address": "support@example.com", "username": "x", "password": "x", "fetch": False}
    return load_settings(None, database_url=database_url, mailboxes=[mailbox])


@pytest.fixture
async def services(settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(settings, clock)
    svc.templates = DeliveryTemplates()
    yield svc
    await svc.db.close()


async def test_pick_a_suggestion_edit_and_send(site: WebSite, browser: Any) -> None:
    channel = site.server.app[EMAIL_CHANNEL]  # type: ignore[index]
    result = await channel.ingest_raw("support", compose(sender="li@example.cn", sender_name="李娜", subject="物流查询",
                                                          body="我的包裹在哪里？", charset="gb2312", codec="gbk"))
    page = await console_page(site, browser, "agent")
    await page.goto(f"{site.url}/tickets/{result.ticket_id}")
    await page.click(".use-template")
    await expect(page.locator("#reply-form textarea")).to_have_value(re.compile("包裹已发出"))  # no eval: the page's CSP
    assert await page.input_value("#reply-form input[name=subject]") == f"[#{result.ticket_id + 1000}] Your parcel"
    await page.fill("#reply-form textarea", await page.input_value("#reply-form textarea") + " 谢谢！")
    await page.click("#send-reply")
    await page.wait_for_selector(".entry-email_out >> text=谢谢！")
    await page.close()
