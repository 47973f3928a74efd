"""In real headless Chromium, in English and in Chinese: an admin defines a custom field and a
shared macro; an agent fills the field in (a bad value is refused next to it), previews and
applies the macro (its template lands in the reply composer, unsent), bulk-assigns from the
queue and saves a view. Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select, update
from web_fixtures import WebSite, console_page

from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.auth import Actor
from core.clock import Clock
from core.records import OutboxMessage, Ticket, User
from knowledge.records import ReplyTemplate
from routing.custom_fields import field_values
from routing.saved_views import list_views

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WORDS = {  # a few words each page must show in the language
    "en": {"fields": "Custom fields", "ticket": "Preview macro", "preview": "will change", "queue": "Apply to selected",
           "error": "Enter a number.", "done": "3 of 3 tickets changed."},
    "zh_CN": {"fields": "自定义字段", "ticket": "预览宏", "preview": "将更改", "queue": "应用于所选",
              "error": "请输入数字。", "done": "已更改 3 个工单中的 3 个。"},
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A mailbox, so the ticket page has its reply composer."""
    mailbox = {"name": "support", "address": "support@example.com", "username": "x", "password": "x", "fetch": False}
    return load_settings(None, database_url=database_url, mailboxes=[mailbox])


@pytest.fixture
async def services(settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(settings, clock)
    yield svc
    await svc.db.close()


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
async def test_admin_defines_agent_fills_previews_applies_bulk_assigns_and_saves_a_view(
    site: WebSite, browser: Any, language: str
) -> None:
    words = WORDS[language]
    async with site.services.db.transaction() as session:
        await session.execute(update(User).values(language=language))
        session.add(ReplyTemplate(name="Refund sent", subject="Your refund", body="Hello, your refund is on its way."))
    desk = site.services.desk
    ids: list[int] = []
    async with site.services.db.session() as session:
        for n in range(3):
            ids.append((await desk.open_ticket(session, Actor.of(site.users["agent"]), f"Refund request {n}")).ticket.id)
        await desk.commit_and_publish(session)

    # -- the admin defines two fields and a shared macro -------------------------------------
    admin = await console_page(site, browser, "admin")
    await admin.set_viewport_size({"width": 1440, "height": 900})
    await admin.goto(site.url + "/admin/fields")
    assert words["fields"] in await admin.inner_text("main")
    form = admin.locator("#field-form")
    await form.locator("input[name=name]").fill("Order reference")
    await form.locator("input[name=key]").fill("order_ref")
    await form.locator("select[name=kind]").select_option("text")
    await form.locator("#define-field").click()
    await admin.locator("tr[data-field-key=order_ref]").wait_for()
    await form.locator("input[name=name]").fill("Amount")
    await form.locator("input[name=key]").fill("amount")
    await form.locator("select[name=kind]").select_option("number")
    await form.locator("#define-field").click()
    await admin.locator("tr[data-field-key=amount]").wait_for()
    await shoot(admin, f"desk-fields-admin-{language}")

    await admin.goto(site.url + "/macros")
    form = admin.locator("#macro-form")
    await form.locator("input[name=name]").fill("Refund done")
    await form.locator("select[name=template_id]").select_option(label="Refund sent")
    await form.locator("select[name=status]").select_option("pending-customer")
    await form.locator("input[name=add_tags]").fill("refund")
    await form.locator("input[name=shared]").check()
    await form.locator("#create-macro").click()
    await admin.locator("table.macros tr[data-macro-id]").wait_for()
    await shoot(admin, f"desk-macros-admin-{language}")

    # -- the agent fills the fields in: a bad number is refused next to its field -------------
    page = await console_page(site, browser, "agent")
    await page.set_viewport_size({"width": 1440, "height": 1000})
    await page.goto(f"{site.url}/tickets/{ids[0]}")
    assert words["ticket"] in await page.inner_text("main")
    await page.fill("#cf-order_ref", "ZX-4711")
    await page.fill("#cf-amount", "lots")
    await page.click("#save-fields")
    error = page.locator("#cf-amount-error")
    await expect(error).to_have_text(words["error"])
    await expect(page.locator("#cf-order_ref")).to_have_value("ZX-4711")
    await shoot(page, f"desk-field-error-{language}")
    await page.fill("#cf-amount", "120.5")
    await page.click("#save-fields")
    await page.wait_for_url(f"**/tickets/{ids[0]}#ticket-fields")
    async with site.services.db.session() as session:
        assert await field_values(session, ids[0]) == {"order_ref": "ZX-4711", "amount": "120.5"}

    # -- preview the macro (nothing changes), then apply it ----------------------------------
    await page.click("#macro-preview-button")
    preview = page.locator("#macro-preview .macro-preview")
    await preview.wait_for()
    assert words["preview"] in await preview.inner_text()
    assert await preview.locator("[data-change=status]").count() == 1
    await shoot(page, f"desk-macro-preview-{language}")
    async with site.services.db.session() as session:
        assert (await session.get(Ticket, ids[0])).status != "pending-customer"  # type: ignore[union-attr]
    await page.click("#macro-apply")
    await page.wait_for_url("**reply_template=*")
    await expect(page.locator("#reply-form textarea[name=body]")).to_have_value("Hello, your refund is on its way.")
    await shoot(page, f"desk-macro-applied-{language}")
    async with site.services.db.session() as session:
        ticket = await session.get(Ticket, ids[0])
        assert ticket is not None and ticket.status == "pending-customer"
        assert (await session.scalars(select(OutboxMessage))).first() is None  # the template was not sent

    # -- bulk-assign every ticket on the page to a colleague ---------------------------------
    await page.goto(site.url + "/queue?status=all")
    assert words["queue"] in await page.inner_text("main")
    await page.check("#select-page")
    await expect(page.locator(".bulk-count")).to_contain_text("3")
    await page.locator("#bulk-form select[name=assignee]").select_option(str(site.users["agent2"].id))
    await page.click("#bulk-apply")
    outcome = page.locator("#bulk-outcomes")
    await outcome.wait_for()
    assert words["done"] in await outcome.inner_text()
    await shoot(page, f"desk-bulk-{language}")
    async with site.services.db.session() as session:
        owners = set(await session.scalars(select(Ticket.assignee_id).where(Ticket.id.in_(ids))))
    assert owners == {site.users["agent2"].id}

    # -- filter by the field and save the view -----------------------------------------------
    await page.goto(site.url + "/queue?status=all")
    await page.locator("#field-filter-key").select_option("order_ref")
    await page.fill("#field-filter-value", "zx-4711")
    await page.click("#queue-filters button[type=submit]")
    await page.wait_for_url("**cf_order_ref=zx-4711*")
    assert await page.locator("#queue-table tbody tr[data-ticket-id]").count() == 1
    await page.fill("#save-view input[name=name]", "Order ZX")
    await page.click("#save-view button[type=submit]")
    await page.locator("#saved-views .saved-view", has_text="Order ZX").wait_for()
    await shoot(page, f"desk-saved-view-{language}")
    async with site.services.db.session() as session:
        views = await list_views(session, Actor.of(site.users["agent"]))
    assert [(v.name, v.query.get("cf_order_ref")) for v in views] == [("Order ZX", "zx-4711")]
