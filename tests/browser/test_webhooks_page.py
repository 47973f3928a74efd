"""In real headless Chromium, ops add a webhook for a CRM on loopback, copy its secret, send a
test event and see it delivered in the log, then disable it. Screenshots under
``artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from web_fixtures import WebSite, console_page
from webhook_receiver import Receiver, serve_receiver

from config.settings import Settings, load_settings
from integrations import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, webhooks={"allow_private_targets": True})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as got:
        yield got


async def test_ops_add_a_webhook_send_a_test_and_see_it_in_the_log(
        site: WebSite, browser: Any, receiver: Receiver) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await console_page(site, browser, "ops")
    await page.set_viewport_size({"width": 1366, "height": 900})
    await page.click("header nav >> text=Webhooks")
    await page.wait_for_url("**/admin/webhooks")

    # A refused target keeps what was typed and names the problem.
    await page.fill("input[name=name]", "CRM")
    await page.fill("input[name=url]", "https://who:pw@crm.example.com/hook")
    await page.check("input[name=events][value='ticket.created']")
    await page.click("#add-webhook")
    await page.wait_for_selector("p.error[data-field=url]")
    assert await page.input_value("input[name=name]") == "CRM"
    assert await page.is_checked("input[name=events][value='ticket.created']")

    await page.fill("input[name=url]", receiver.url)
    await page.check("input[name=events][value='ticket.solved']")
    await page.click("#add-webhook")
    secret = (await page.inner_text("code.webhook-secret")).strip()
    assert secret.startswith("whsec_")
    await page.screenshot(path=str(SCREENSHOTS / "webhooks_added.png"), full_page=True)
    assert "ticket.created, ticket.solved" in await page.inner_text("table.webhooks")

    await page.click("table.webhooks >> text=CRM")
    await page.wait_for_url("**/admin/webhooks/*")
    assert secret not in await page.content()  # shown once only
    await page.click("#send-test")
    await page.wait_for_url("**tested=*")
    for _ in range(50):  # the server's worker sends it at once; the page shows the log when reloaded
        if await page.locator("table.webhook-log tr.webhook-delivered").count():
            break
        await page.wait_for_timeout(100)
        await page.reload()
    row = page.locator("table.webhook-log tr.webhook-delivered").first
    assert "webhook.test" in await row.inner_text()
    assert (await row.locator("td.status-code").inner_text()).strip() == "200"
    headers, body = receiver.received[0]
    assert verify(secret, headers[SIGNATURE_HEADER], body, site.services.clock.now().timestamp())
    width = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, "the webhook page is wider than the window"
    await page.screenshot(path=str(SCREENSHOTS / "webhooks_log.png"), full_page=True)

    await page.click("#disable-webhook")
    await page.wait_for_selector("#enable-webhook")
    assert await page.locator("#send-test").count() == 0
    await page.close()
