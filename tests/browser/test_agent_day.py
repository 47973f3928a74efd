"""In real headless Chromium against the real server, the AMI simulator and a real SMTP server:
an agent logs in, pauses, goes ready, gets the pop of a simulated call, takes it (the phone
answers), wraps up; then replies to an email with the suggested template."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cti_fixtures import until
from web_fixtures import WebSite, console_page

from channels.plugin import EMAIL_CHANNEL
from channels.samples import compose
from channels.sink import MailSink
from config.settings import Settings, load_settings
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from cti.scenarios import QueueCall
from cti.simulator import AmiSimulator
from knowledge.transfer import import_samples

pytestmark = pytest.mark.browser

AGENT_LINE = "PJSIP/1001"  # the agent's extension in the phone_site fixture


@pytest.fixture
async def smtp() -> AsyncIterator[MailSink]:
    sink = await MailSink().start()
    yield sink
    await sink.stop()


@pytest.fixture
def settings(database_url: str, smtp: MailSink) -> Settings:
    mailbox = {"name": "support", "address": "support@example.com", "username": "x", "password": "x", "fetch": False}
    return load_settings(
        None, database_url=database_url, mailboxes=[mailbox],
        smtp={"host": "127.0.0.1", "port": smtp.port, "security": "plain", "from_address": "support@example.com"})


async def test_an_agent_takes_a_call_wraps_up_and_answers_a_mail(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any, smtp: MailSink
) -> None:
    from playwright.async_api import expect

    site, pbx = phone_site
    async with site.services.db.transaction() as session:
        await create_customer(session, Actor.system(), CustomerDraft(
            name="张伟", phones=["+8613800138000"], emails=["zhang.wei@example.cn"], tier="vip"))
        await import_samples(session, site.services.renderer)

    page = await console_page(site, browser, "agent")
    state = page.locator("#cti-state")
    await page.wait_for_selector("#live-state[data-state=open]")
    await expect(state).to_have_attribute("data-state", "ready", timeout=5000)

    # Pause for lunch, then ready by the keyboard: the state shown is the one the PBX confirmed.
    await page.select_option("#cti-pause-reason", "Lunch")
    await page.click('[data-cti-status="paused"]')
    await expect(state).to_have_attribute("data-state", "paused")
    await expect(state).to_contain_text("Lunch")
    await page.keyboard.press("y")  # the Ready shortcut
    await expect(state).to_have_attribute("data-state", "ready")

    # A customer calls the queue: the pop shows who it is while the phone rings, then the live call.
    call = QueueCall("+8613800138000", "Zhang Wei", queue="support", ring=[AGENT_LINE], answered_by=AGENT_LINE,
                     ring_s=1.5, talk_s=1.5)
    playing = asyncio.create_task(pbx.play(call.steps()))
    pop = page.locator("#cti-pops .cti-pop")
    await expect(pop).to_be_visible(timeout=3000)
    await expect(pop.locator(".cti-pop-name")).to_have_text("张伟")
    await expect(pop).to_contain_text("vip")
    await page.screenshot(path=str(_shots() / "console-pop-en.png"))
    await expect(page.locator("#cti-call")).to_be_visible(timeout=3000)  # answered on the phone
    await expect(page.locator("#cti-call")).to_contain_text("张伟")
    await expect(state).to_have_attribute("data-state", "on-call")
    await playing

    # The caller hangs up: wrap-up, with its timer running, then ready again.
    await expect(page.locator("#cti-call")).to_be_hidden(timeout=3000)
    await page.keyboard.press("w")  # the Wrap-up shortcut
    await expect(state).to_have_attribute("data-state", "wrap-up", timeout=3000)
    await expect(page.locator("#cti-clock")).to_have_text(re.compile(r"^0:0[1-5]$"), timeout=3000)  # counting
    await page.click('[data-cti-status="ready"]')
    await expect(state).to_have_attribute("data-state", "ready")

    # A mail about a late parcel: the suggested template, edited, goes out through SMTP.
    channel = site.server.app[EMAIL_CHANNEL]
    result = await channel.ingest_raw("support", compose(
        sender="zhang.wei@example.cn", sender_name="张伟", subject="包裹还没收到",
        body="你好，我的快递还没收到，已经延迟三天了。", charset="gb2312", codec="gbk"))
    await page.goto(f"{site.url}/tickets/{result.ticket_id}")
    suggestion = page.locator(".suggestion").first
    await expect(suggestion).to_contain_text("物流延迟")
    await expect(suggestion.locator(".matched")).to_contain_text("快递")
    await suggestion.locator(".use-template").click()
    body = page.locator("#reply-form textarea")
    await expect(body).not_to_have_value("", timeout=3000)
    assert "很抱歉您的包裹延迟送达" in await body.input_value()
    await body.fill(await body.input_value() + "\n补偿券已发到您的账户。")
    await page.click("#send-reply")
    await page.wait_for_selector(".entry-email_out >> text=补偿券已发到您的账户")
    await until(lambda: any(b"zhang.wei@example.cn" in ",".join(m.recipients).encode() for m in smtp.messages), within=10)
    await page.close()


def _shots() -> Any:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
