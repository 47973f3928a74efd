"""In real headless Chromium: ops write a template on the knowledge page, see a broken one
refused with the reason, and try a mail against the keywords."""

from __future__ import annotations

from typing import Any

import pytest
from web_fixtures import WebSite, console_page

pytestmark = pytest.mark.browser


async def test_ops_write_a_template_and_try_a_mail_against_it(site: WebSite, browser: Any) -> None:
    page = await console_page(site, browser, "ops")
    await page.click("nav >> text=Templates")
    await page.wait_for_url("**/ops/knowledge")
    form = page.locator("#template-form")
    await form.locator("input[name=name]").fill("退款 refund")
    await form.locator("input[name=subject]").fill("Re: {{ ticket.tag }}")
    await form.locator("textarea[name=body]").fill("{{ customer.__class__ }}")
    await form.locator("textarea[name=keywords]").fill("退款: 3\nrefund")
    await form.locator("button[type=submit]").click()
    error = form.locator("[data-role=error]")
    await error.wait_for()
    assert "not allowed" in await error.inner_text()

    await form.locator("textarea[name=body]").fill("Dear {{ customer.name }}")
    await form.locator("button[type=submit]").click()
    row = page.locator("table.templates >> text=退款 refund")
    await row.wait_for(timeout=10_000)

    await page.locator("[data-edit-template]").first.click()
    assert await form.locator("textarea[name=keywords]").input_value() == "退款: 3\nrefund: 1"

    trial = page.locator("#try-form")
    await trial.locator("input[name=subject]").fill("關於退款")
    await trial.locator("textarea[name=body]").fill("I want a REFUND")
    await trial.locator("button[type=submit]").click()
    suggestion = trial.locator("[data-role=suggestions] li").first
    await suggestion.wait_for()
    assert "退款 refund (7" in await suggestion.inner_text()
    assert "退款" in await suggestion.inner_text() and "refund" in await suggestion.inner_text()
    await page.close()
