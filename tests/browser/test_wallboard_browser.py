"""In real headless Chromium against the real server and the AMI simulator: the supervisor's
wallboard shows a queue call and an SLA breach within a second; screenshots of the console
and the wallboard in English and Chinese are saved under ``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cti_fixtures import until
from web_fixtures import WebSite, console_page

from alerts.keys import SLA
from config.settings import Settings, load_settings
from core.clock import ManualClock
from core.records import EntryKind, User
from cti.plugin import CTI
from cti.scenarios import QueueCall
from cti.simulator import AmiSimulator
from routing import Contact

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
AGENT_LINE = "PJSIP/1001"
TV = "tv-in-the-hall-0123456789"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
async def pbx() -> AsyncIterator[AmiSimulator]:
    sim = AmiSimulator("cti", "s3cret", queues={"support": [AGENT_LINE]})
    await sim.start()
    yield sim
    await sim.close()


@pytest.fixture
def settings(database_url: str, pbx: AmiSimulator) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai", web={"wallboard_token": TV}, pbx=[{
        "name": "sim", "host": "127.0.0.1", "port": pbx.port, "username": "cti", "secret": "s3cret",
        "ping_interval": 0.5, "ping_timeout": 1.0, "action_timeout": 2.0}])


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def shows(page: Any, name: str, text: str, within_ms: int = 1000) -> None:
    from playwright.async_api import expect

    await expect(page.locator(f'#region-summary [data-figure="{name}"]')).to_have_text(text, timeout=within_ms)


async def figure(page: Any, name: str) -> str:
    return str(await page.locator(f'#region-summary [data-figure="{name}"]').inner_text()).strip()


async def test_the_wallboard_shows_a_call_and_an_sla_breach_within_a_second(
    site: WebSite, browser: Any, pbx: AmiSimulator, clock: ManualClock
) -> None:
    async with site.services.db.transaction() as session:
        agent = await session.get(User, site.users["agent"].id)
        assert agent is not None
        agent.pbx_interface = AGENT_LINE
    cti = site.server.app[CTI]
    await cti.directory.reload()
    link = cti.lines["sim"].link
    await until(lambda: link.up and link.resyncs >= 1)

    page = await console_page(site, browser, "supervisor")
    await page.set_viewport_size({"width": 1600, "height": 1000})
    await page.goto(f"{site.url}/wallboard")
    await page.wait_for_selector("#wb-state[data-state=open]")
    assert await figure(page, "offered") == "0"

    # A caller waits, then agent 1001 answers after the ring: the board counts it within a second.
    call = QueueCall("+8613800138000", "Zhang Wei", queue="support", ring=[AGENT_LINE], answered_by=AGENT_LINE,
                     ring_s=0.3, talk_s=2.0)
    playing = asyncio.create_task(pbx.play(call.steps()))
    await until(lambda: any(c.answered_at for c in cti.lines["sim"].tracker.calls.values()), within=5)
    answered = time.monotonic()
    await shows(page, "answered", "1")
    assert time.monotonic() - answered < 1.0
    assert await figure(page, "offered") == "1" and await figure(page, "service-level") == "100.0%"
    assert "on-call" in (await page.locator("#region-agents").inner_text()).lower() or \
        "on call" in (await page.locator("#region-agents").inner_text()).lower()
    await shoot(page, "wallboard-en")

    # An email waits past its SLA deadline: the scanner fires, the board shows the breach within a second.
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(
            session, Contact("email", None, subject="Broken blender"), EntryKind.EMAIL_IN, {"text": "broken"})
        await site.services.desk.commit_and_publish(session)
    await shows(page, "emails-open", "1")
    assert await figure(page, "emails-breached") == "0"
    clock.advance(timedelta(days=1, hours=4))  # past 12 business hours
    scanner = site.server.app[SLA].scanner  # type: ignore[index]
    started = time.monotonic()
    while await scanner.scan_once():
        pass
    await shows(page, "emails-breached", "1")
    assert time.monotonic() - started < 1.5
    assert accepted.ticket.id
    await playing

    # The same board in Chinese on the hall's TV (read-only token, big screen), and the console in both languages.
    await page.close()
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{site.url}/wallboard?token={TV}&lang=zh_CN")
    await page.wait_for_selector("#wb-state[data-state=open]")
    assert "等待中的来电" in await page.inner_text("#region-summary")
    await shoot(page, "wallboard-zh_CN")
    console = await console_page(site, browser, "agent")
    await console.set_viewport_size({"width": 1400, "height": 900})
    await console.goto(f"{site.url}/tickets/{accepted.ticket.id}")
    await console.wait_for_selector("#timeline")
    await shoot(console, "console-ticket-en")
    await console.goto(f"{site.url}/queue")
    await shoot(console, "console-queue-en")
    await console.select_option("select[name=language]", "zh_CN")
    await console.wait_for_selector("text=我的工单")
    await shoot(console, "console-queue-zh_CN")
    await console.goto(f"{site.url}/tickets/{accepted.ticket.id}")
    await console.wait_for_selector("text=知识库搜索")
    await shoot(console, "console-ticket-zh_CN")
    await console.close()
    await page.close()
