"""In real headless Chromium: the ticket page shows the SLA clock in business time, and one
click acknowledges the alert (the button goes away, the timeline says who)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web_fixtures import WebSite, console_page

from alerts.keys import SLA
from config.settings import Settings, load_settings
from core.clock import ManualClock
from core.records import EntryKind
from routing import Contact

pytestmark = pytest.mark.browser


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai")


async def test_the_agent_sees_the_overdue_clock_and_acknowledges_with_one_click(
    site: WebSite, browser: Any, clock: ManualClock
) -> None:
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(
            session, Contact("email", None, subject="Broken blender"), EntryKind.EMAIL_IN, {"text": "broken"}
        )
        accepted.ticket.assignee_id = site.users["agent"].id
        await site.services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=1, hours=4))  # Tuesday 14:00 local: an hour past 12 business hours
    parts = site.server.app[SLA]  # type: ignore[index]
    while await parts.scanner.scan_once():
        pass

    page = await console_page(site, browser, "agent")
    await page.goto(f"{site.url}/tickets/{accepted.ticket.id}")
    clock_text = page.locator("#sla-targets")
    await page.wait_for_selector("#sla-targets .sla-target.breached")
    assert "First response: overdue by 1h 0m (business time)" in await clock_text.inner_text()
    button = page.locator("#sla-ack")
    await button.wait_for(state="visible")
    await button.click()
    await page.wait_for_selector(".sla-target.acknowledged")
    assert await page.locator(".sla-ack").is_hidden()
    assert "acknowledged by agent" in (await page.inner_text("#timeline")).lower()

    # The same clock for an agent who works in Chinese.
    await page.select_option("select[name=language]", "zh_CN")
    await page.wait_for_selector("text=确认告警", state="attached")
    await page.wait_for_selector("#sla-targets .sla-target.acknowledged")
    text = await clock_text.inner_text()
    assert "首次响应: 已超时 1小时 0分钟 （工作时间） · 第 " in text and "级 · 已确认" in text
    await page.close()
