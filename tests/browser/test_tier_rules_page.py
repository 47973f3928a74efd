"""In real headless Chromium: ops edit a tier rule on the form, preview how many customers each
tier would get, save, recompute, and the customer's page shows the tier and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.tiering import save_rules

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


async def test_ops_edit_preview_and_save_a_tier_rule_in_the_browser(site: WebSite, browser: Any) -> None:
    async with site.services.db.transaction() as session:
        rich = (await create_customer(session, Actor.system(), CustomerDraft(
            name="Zhang Wei", emails=["zhang@example.cn"], attributes={"lifetime_value": 12000}))).id
        await create_customer(session, Actor.system(), CustomerDraft(name="Li Na", attributes={"lifetime_value": 300}))
        await save_rules(session, Actor.system(), [{"name": "High value", "tier": "vip", "conditions": [
            {"field": "attribute", "attribute": "lifetime_value", "op": ">=", "value": 50000}]}])

    page = await console_page(site, browser, "ops")
    await page.click("nav >> text=Customer tiers")
    await page.wait_for_url("**/admin/tiers")
    rule = page.locator("[data-role=tier-rule][data-rule='High value']")
    value = rule.locator("[data-role=condition]").first.locator("[data-role=value]")
    assert await value.input_value() == "50000"
    await value.fill("10000")
    await page.click("[data-role=preview]")
    preview = page.locator("[data-role=tier-preview]")
    await preview.wait_for()
    assert (await preview.locator("tr[data-tier=vip] td").nth(1).inner_text()) == "1"
    assert (await preview.locator("tr[data-tier=standard] td").nth(1).inner_text()) == "1"
    # The preview kept what was typed: saving now saves the edit.
    edited = page.locator("[data-role=tier-rule][data-rule='High value'] [data-role=value]").first
    assert await edited.input_value() == "10000"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "tier-rules-preview.png"), full_page=True)
    await page.click("[data-role=save]")
    await page.locator("[data-role=saved]").wait_for()
    await page.click("[data-role=recompute]")
    await page.locator("[data-role=recomputed]").wait_for()

    await page.goto(f"{site.url}/customers/{rich}")
    assert (await page.locator("[data-role=tier]").inner_text()).strip().lower() == "vip"
    assert "rule 'High value': lifetime_value >= 10000" in await page.locator("[data-role=tier-reason]").inner_text()
    assert "12000" in await page.locator("[data-role=attributes]").inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "tier-customer-page.png"), full_page=True)
