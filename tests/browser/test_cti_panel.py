"""In real headless Chromium: a customer calls, the ringing agent's console pops the
customer before answer, the pop becomes the live call; the agent pauses and dials."""

from __future__ import annotations

from typing import Any

import pytest
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from cti.simulator import AmiSimulator, QueueCall

pytestmark = pytest.mark.browser


async def test_the_ringing_agent_sees_the_customer_then_the_call_and_drives_the_phone(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any
) -> None:
    site, sim = phone_site
    async with site.services.db.transaction() as session:
        await create_customer(session, Actor.system(), CustomerDraft(name="Zhang Wei", phones=["+8613800138000"], tier="vip"))
    page = await console_page(site, browser, "agent")
    other = await console_page(site, browser, "agent2")
    await page.wait_for_selector("#live-state[data-state=open]")
    await other.wait_for_selector("#live-state[data-state=open]")

    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=1.5, talk_s=60)
    sim.spawn(sim.play(call.steps()))
    pop = page.locator("#cti-pops .cti-pop")
    await pop.wait_for(timeout=10_000)
    assert "Zhang Wei" in await pop.inner_text() and "vip" in await pop.inner_text()
    await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
    assert await other.locator("#cti-pops .cti-pop").count() == 0  # only the ringing agent

    await page.click("#cti-hangup")
    await page.locator("#cti-call").wait_for(state="hidden", timeout=10_000)
    await page.select_option("#cti-pause-reason", "Lunch")
    await page.click("[data-cti-status=paused]")
    await page.wait_for_selector("#cti-state[data-state=paused]")
    assert "Lunch" in await page.inner_text("#cti-state")

    await page.fill("#cti-dial-number", "+14155550123")
    await page.click("#cti-dial button[type=submit]")
    await page.wait_for_selector("#cti-call:not([hidden])", timeout=10_000)
    assert sim.actions["Originate"] == 1
    await page.close()
    await other.close()


async def test_the_agent_consults_cancels_and_is_told_when_their_own_phone_was_not_picked_up(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any
) -> None:
    site, sim = phone_site
    sim.pbx.no_answer.add("PJSIP/1002")  # Bob lets the consultation ring
    page = await console_page(site, browser, "agent")
    await page.wait_for_selector("#live-state[data-state=open]")
    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.3, talk_s=60)
    sim.spawn(sim.play(call.steps()))
    await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
    assert await page.locator("#cti-atxfer-cancel").is_hidden()

    await page.fill("#cti-transfer-target", "1002")
    await page.click("#cti-atxfer")
    cancel = page.locator("#cti-atxfer-cancel")
    await cancel.wait_for(state="visible", timeout=10_000)
    assert "Calling 1002 for the transfer" in await page.inner_text("#cti-message")
    await cancel.click()
    await cancel.wait_for(state="hidden", timeout=10_000)
    assert "Transfer cancelled. You are back with the customer." in await page.inner_text("#cti-message")
    assert sim.actions["CancelAtxfer"] == 1
    assert await page.locator("#cti-call").is_visible()  # still on the call with the customer

    await page.click("#cti-hangup")
    await page.locator("#cti-call").wait_for(state="hidden", timeout=10_000)
    sim.pbx.no_answer.add("PJSIP/1001")  # now Alice does not pick up her own phone
    await page.fill("#cti-dial-number", "+14155550123")
    await page.click("#cti-dial button[type=submit]")
    message = page.locator("#cti-message[data-bad='1']")
    await message.wait_for(timeout=10_000)
    assert await message.inner_text() == "You did not pick up your phone, so +14155550123 was not called."
    assert await page.locator("#cti-call").is_hidden()
    await page.close()
