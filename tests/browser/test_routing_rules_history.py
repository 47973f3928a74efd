"""In real headless Chromium: ops reorder two rules and disable one on the rule list, then open
the version history, read what changed between versions and restore an older one — each time
checking what the page shows and what routing (and the database) then does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, TimelineEntry
from routing import Contact
from routing.records import RuleVersion

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _refunds_to(queue: str) -> dict[str, Any]:
    return {"name": f"Refunds to {queue}", "enabled": True, "stop": True,
            "groups": [{"mode": "all", "conditions": [{"field": "keywords", "op": "contains_any", "value": ["refund"]}]}],
            "actions": {"queue": queue}}


async def _routed(site: WebSite, customer: int, subject: str) -> tuple[str, str | None]:
    """A new mail about a refund: the queue it lands in and the rule its timeline names."""
    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(session, Contact("email", customer, subject=subject), EntryKind.EMAIL_IN, {})
        await desk.commit_and_publish(session)
        ticket = accepted.ticket
    async with site.services.db.session() as session:
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket.id))).scalars().one()
    return ticket.queue, entry.payload["routing"]["rule"]


async def _versions(site: WebSite) -> list[RuleVersion]:
    async with site.services.db.session() as session:
        return list((await session.execute(select(RuleVersion).order_by(RuleVersion.version))).scalars())


async def _list_order(page: Any) -> list[str]:
    return [name for name in await page.locator("[data-role=rule-list] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.rule)") if name.startswith("Refunds")]


async def test_ops_reorder_disable_and_restore_rules_in_the_browser(site: WebSite, browser: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with site.services.db.transaction() as session:
        customer = (await create_customer(session, Actor.system(), CustomerDraft(name="Ana", emails=["ana@example.com"]))).id
    # Version 1, written by the admin: refunds go to billing (first, and it stops there).
    admin = await site.login("admin")
    live = await admin.api("GET", "/api/v1/routing/rules")
    await admin.api("PUT", "/api/v1/routing/rules", json={
        "rules": [*live["rules"], _refunds_to("billing"), _refunds_to("finance")], "based_on": 0, "note": "refunds"})
    assert await _routed(site, customer, "Refund for order 1") == ("billing", "Refunds to billing")

    page = await console_page(site, browser, "ops")
    await page.goto(f"{site.url}/admin/routing")
    assert await _list_order(page) == ["Refunds to billing", "Refunds to finance"]

    # Reorder: finance moves up above billing; saved, the order holds after a reload and routes.
    finance = page.locator("[data-role=rule-list] tr[data-rule='Refunds to finance']")
    await finance.locator("[data-role=up]").click()
    assert await _list_order(page) == ["Refunds to finance", "Refunds to billing"]
    await page.fill("[data-role=note]", "finance first")
    await page.click("[data-role=save]")
    await page.locator("[data-role=version]", has_text="2").wait_for()
    await page.reload()
    assert await _list_order(page) == ["Refunds to finance", "Refunds to billing"]
    assert await _routed(site, customer, "Refund for order 2") == ("finance", "Refunds to finance")

    # Disable the finance rule: it shows unticked after a reload and routes nothing any more.
    await finance.locator("[data-role=enable]").uncheck()
    await page.click("[data-role=save]")
    await page.locator("[data-role=version]", has_text="3").wait_for()
    await page.reload()
    assert not await finance.locator("[data-role=enable]").is_checked()
    assert await _routed(site, customer, "Refund for order 3") == ("billing", "Refunds to billing")
    await page.screenshot(path=str(SCREENSHOTS / "routing-rules-reordered-disabled.png"), full_page=True)

    # The history: each version says what changed, the field named; the live one is marked.
    await page.click("a[data-role=history]")
    await page.wait_for_url("**/admin/routing/history")
    v3, v2 = page.locator("article[data-version='3']"), page.locator("article[data-version='2']")
    assert "Refunds to finance" in await v3.locator(".diff").inner_text()
    assert "enabled true → false" in await v3.locator(".diff").inner_text()
    moved = await v2.locator(".diff").inner_text()
    assert "↕ rule 'Refunds to finance' moved from position" in moved and "billing" not in moved
    assert "finance first" in await v2.inner_text() and "Ops" in await v2.inner_text()
    v1 = page.locator("article[data-version='1']")
    assert "Admin" in await v1.inner_text()
    assert (await v1.locator(".diff").inner_text()).splitlines() == [
        "+ rule 'Refunds to billing' added at position 7", "+ rule 'Refunds to finance' added at position 8"]
    assert await v3.locator("[data-role=live]").count() == 1 and await v3.locator("button").count() == 0

    # Restore version 2: a new version 4 with the restore noted, by this person, is live.
    await v2.locator("button[type=submit]").click()
    v4 = page.locator("article[data-version='4']")
    await v4.wait_for()
    text = await v4.inner_text()
    assert "restored version 2" in text and "Ops" in text and await v4.locator("[data-role=live]").count() == 1
    assert "enabled false → true" in await v4.locator(".diff").inner_text()
    assert await page.locator("article[data-version='3'] [data-role=live]").count() == 0
    await page.screenshot(path=str(SCREENSHOTS / "routing-rules-history-restored.png"), full_page=True)
    versions = await _versions(site)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert versions[3].rules == versions[1].rules and versions[3].author_id == site.users["ops"].id
    assert versions[3].note == "restored version 2"
    assert await _routed(site, customer, "Refund for order 4") == ("finance", "Refunds to finance")
    await page.goto(f"{site.url}/admin/routing")
    assert await page.locator("[data-role=version]").inner_text() == "4"
    assert await finance.locator("[data-role=enable]").is_checked()
    await page.close()
