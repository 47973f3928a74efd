"""In real headless Chromium: a caller complains, the agent hangs up and fills in the wrap-up form
(outcome, complaint category, product, note); a supervisor then finds the call's ticket in the
complaint report, under its category and its product."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, TimelineEntry
from cti.simulator import AmiSimulator, QueueCall

pytestmark = pytest.mark.browser


async def test_the_agent_wraps_up_a_complaint_call_and_the_supervisor_sees_it_in_the_report(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any
) -> None:
    site, sim = phone_site
    async with site.services.db.transaction() as session:
        await create_customer(session, Actor.system(), CustomerDraft(name="Zhang Wei", phones=["+8613800138000"]))
    page = await console_page(site, browser, "agent")
    await page.wait_for_selector("#live-state[data-state=open]")
    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.3, talk_s=60)
    sim.spawn(sim.play(call.steps()))
    await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
    await page.click("#cti-hangup")

    form = page.locator("#cti-wrap-up")
    await form.wait_for(state="visible", timeout=10_000)
    await page.locator("#cti-wrap-up-category option[value=product-quality]").wait_for(state="attached", timeout=10_000)
    await page.select_option("#cti-wrap-up-outcome", "follow-up")
    await page.select_option("#cti-wrap-up-category", "product-quality")
    await page.fill("#cti-wrap-up-product", "Router X2")
    await page.fill("#cti-wrap-up-note", "Screen cracked on arrival; sending a replacement")
    await page.click("#cti-wrap-up-save")
    await form.wait_for(state="hidden", timeout=10_000)
    assert "Wrap-up saved" in await page.inner_text("#cti-message")
    async with site.services.db.session() as session:
        entry = (await session.scalars(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.WRAP_UP.value))).one()
    assert (entry.payload["outcome"], entry.payload["category"]) == ("follow-up", "product-quality")
    await page.close()

    report = await console_page(site, browser, "supervisor")
    await report.goto(f"{site.url}/reports/complaints")
    row = report.locator(".report-complaints-category tr[data-key=product-quality]")
    assert "Product quality" in await row.inner_text()
    await row.locator("a.drill").click()
    await report.wait_for_selector("#drill-down")
    drilled = report.locator(f".complaint-tickets tr[data-ticket-id='{entry.ticket_id}']")
    assert "Product quality" in await drilled.inner_text()
    assert "router x2" in await report.locator(".report-complaints-product").inner_text()
    await report.screenshot(path="artifacts/screenshots/complaint_report.png", full_page=True)
    await report.close()
