"""In real headless Chromium: ops write a rule with the condition builder, replay it over the
week's contacts, see which would move, save it, and the next such mail lands where it says."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, TimelineEntry
from knowledge.records import ReplyTemplate
from routing import Contact
from routing.records import WorkItem

pytestmark = pytest.mark.browser


async def _mail(site: WebSite, customer: int, tier: str, subject: str) -> tuple[str, int, int]:
    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(session, Contact("email", customer, customer_tier=tier, subject=subject), EntryKind.EMAIL_IN, {})
        await desk.commit_and_publish(session)
        return accepted.ticket.queue, accepted.ticket.priority, accepted.ticket.id


async def test_ops_build_replay_and_save_a_rule_in_the_browser(site: WebSite, browser: Any) -> None:
    async with site.services.db.transaction() as session:
        vip = (await create_customer(session, Actor.system(), CustomerDraft(name="Zhang", tier="vip", emails=["z@example.com"]))).id
        std = (await create_customer(session, Actor.system(), CustomerDraft(name="Li", emails=["li@example.com"]))).id
    await _mail(site, vip, "vip", "我要退款")
    await _mail(site, std, "standard", "Refund please")
    await _mail(site, vip, "vip", "Password reset")
    async with site.services.db.transaction() as session:
        session.add(ReplyTemplate(name="Invoice copy", category="billing", subject="Your invoice", body="Attached."))

    page = await console_page(site, browser, "ops")
    await page.click("nav >> text=Routing rules")
    await page.wait_for_url("**/admin/routing")
    assert await page.locator("[data-role=rule-list] tbody tr").count() >= 5  # the built-in rules
    await page.click("[data-role=new-rule]")
    form = page.locator("#rule-editor")
    await form.locator("input[name=name]").fill("VIP refunds")
    first = form.locator("[data-role=condition]").first
    await first.locator("[data-role=field]").select_option("tier")
    await first.locator("[data-role=op]").select_option("in")
    await first.locator("[data-role=value]").fill("vip")
    await form.locator("[data-role=add-condition]").first.click()
    second = form.locator("[data-role=condition]").nth(1)
    await second.locator("[data-role=field]").select_option("keywords")
    await second.locator("[data-role=value]").fill("退款，refund")
    await form.locator("input[name=queue]").fill("billing")
    await form.locator("select[name=priority]").select_option("urgent")
    await form.locator("select[name=strategy]").select_option("round_robin")
    await form.locator("input[name=skill]").fill("billing")
    await form.locator("button[type=submit]").click()
    row = page.locator("[data-role=rule-list] tr[data-rule='VIP refunds']")
    await row.wait_for()
    assert "billing" in await row.inner_text()

    await page.click("[data-role=replay]")
    summary = page.locator("[data-role=replay-summary]")
    await summary.wait_for()
    assert (await summary.inner_text()).startswith("1 ")
    examples = page.locator("[data-role=examples] tbody tr")
    assert await examples.count() == 1 and "我要退款" in await examples.first.inner_text()

    await page.click("[data-role=save]")
    await page.locator("[data-role=version]", has_text="1").wait_for()
    queue, priority, ticket_id = await _mail(site, vip, "vip", "退款 for order 7")
    assert (queue, priority) == ("billing", 3)
    async with site.services.db.session() as session:
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id))).scalars().one()
    assert entry.payload["routing"]["rule"] == "VIP refunds" and entry.payload["routing"]["version"] == 1
    async with site.services.db.session() as session:
        work = (await session.execute(select(WorkItem).where(WorkItem.ticket_id == ticket_id))).scalars().one()
    assert (work.queue, work.strategy, work.skill) == ("billing", "round_robin", "billing")  # offered round robin to billing agents
    # The ticket's timeline names the rule, its version and why.
    await page.goto(f"{site.url}/tickets/{ticket_id}")
    why = page.locator("[data-role=routing-why]")
    await why.wait_for()
    assert "VIP refunds" in await why.inner_text() and "1" in await why.inner_text()
    await why.locator("summary").click()
    assert "keyword 退款" in await why.inner_text()
    await page.goto(f"{site.url}/admin/routing")

    # A rule on the category of the template the matcher suggests first: the builder offers the
    # categories there are; saved, a mail whose top suggestion is in it goes where the rule says.
    await page.click("[data-role=new-rule]")
    await form.locator("input[name=name]").fill("Billing documents")
    condition = form.locator("[data-role=condition]").first
    await condition.locator("[data-role=field]").select_option("template_category")
    await condition.locator("[data-role=op]").select_option("in")
    value = condition.locator("[data-role=value]")
    assert await value.get_attribute("list") == "names-template_categories"
    assert await page.locator("#names-template_categories option[value=billing]").count() == 1
    await value.fill("billing")
    await form.locator("input[name=queue]").fill("billing-docs")
    await form.locator("input[name=tags]").fill("documents")
    await form.locator("button[type=submit]").click()
    await page.locator("[data-role=rule-list] tr[data-rule='Billing documents']").wait_for()
    await page.click("[data-role=save]")
    await page.locator("[data-role=version]", has_text="2").wait_for()
    async with site.services.db.session() as session:
        contact = Contact("email", std, customer_tier="standard", subject="Copy of invoice 8",
                          attributes={"template": "Invoice copy", "template_category": "billing"})
        accepted = await site.services.desk.accept(session, contact, EntryKind.EMAIL_IN, {})
        await site.services.desk.commit_and_publish(session)
    assert accepted.ticket.queue == "billing-docs" and accepted.decision.tags == ["documents"]

    # A broken rule is refused with the field named, and nothing is saved.
    await row.locator("[data-role=edit]").click()
    await form.locator("[data-role=condition]").first.locator("[data-role=value]").fill("")
    await form.locator("button[type=submit]").click()
    await page.click("[data-role=save]")
    error = page.locator("[data-role=error]")
    await error.wait_for()
    assert "conditions.0" in await error.inner_text()
    await page.close()
