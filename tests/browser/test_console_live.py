"""In real headless Chromium: an agent logs in, sees the queue, and a ticket created
through the API appears without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from web_fixtures import WebSite, console_page

pytestmark = pytest.mark.browser


async def test_a_ticket_created_elsewhere_appears_in_the_queue_live(site: WebSite, browser: Any) -> None:
    robot = await site.token_client("supervisor")
    await robot.api("POST", "/api/v1/tickets", json={"subject": "Already waiting"}, status=201)

    page = await console_page(site, browser, "agent")
    await page.wait_for_selector("table.tickets >> text=Already waiting")
    await page.wait_for_selector("#live-state[data-state=open]")
    await page.evaluate("window.__sameDocument = true")

    made = await robot.api("POST", "/api/v1/tickets", json={"subject": "Fresh from the API"}, status=201)
    row = page.locator(f'tr[data-ticket-id="{made["ticket"]["id"]}"]')
    await row.wait_for(timeout=10_000)
    assert "Fresh from the API" in await row.inner_text()
    assert await page.evaluate("window.__sameDocument") is True  # no reload happened

    # Opening the ticket shows its timeline; taking it is one click.
    await row.locator("a").first.click()
    await page.wait_for_selector("#ticket")
    await page.click("#take")
    await page.wait_for_selector(".entry-assignment")
    assert "Agent" in await page.inner_text(".ticket-head")
    await page.close()
