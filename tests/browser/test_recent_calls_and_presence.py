"""In real headless Chromium, in English and Chinese: a pop nobody answered stays in the
agent's recent calls (after a reload too) with its ticket and a call-back button that dials;
two agents on the call's ticket see each other ("Agent is viewing", then "is replying").
Screenshots are saved under ``artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cti_fixtures import until
from web_fixtures import WebSite, console_page

from cti.simulator import AmiSimulator, QueueCall

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WORDS = {
    "en": {"missed": "missed", "call_back": "Call back", "viewing": "Agent is viewing", "replying": "Agent is replying"},
    "zh_CN": {"missed": "未接", "call_back": "回拨", "viewing": "Agent 正在查看", "replying": "Agent 正在回复"},
}


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def speak(page: Any, language: str) -> None:
    if language != "en":
        async with page.expect_navigation():
            await page.select_option("select[name=language]", language)
    await page.wait_for_selector("#live-state[data-state=open]")


@pytest.mark.parametrize("language", ["en", "zh_CN"])
async def test_a_missed_pop_stays_in_recent_calls_and_colleagues_see_each_other_on_its_ticket(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any, language: str
) -> None:
    site, sim = phone_site
    words = WORDS[language]
    page = await console_page(site, browser, "agent")
    other = await console_page(site, browser, "agent2")
    await page.set_viewport_size({"width": 1440, "height": 900})
    await speak(page, language)
    await speak(other, language)

    # It rings Agent's phone; nobody answers and the queue gives up.
    call = QueueCall("+14155550199", ring=["PJSIP/1001"], answered_by=None, ring_s=1.0, abandon_s=1.5, timeout=True)
    sim.spawn(sim.play(call.steps()))
    pop = page.locator("#cti-pops .cti-pop")
    await pop.wait_for(timeout=10_000)
    await page.locator("#cti-pops .cti-pop .cti-open-ticket:not([hidden])").wait_for(timeout=10_000)  # the call's ticket
    await pop.wait_for(state="detached", timeout=10_000)
    entry = page.locator("#cti-recent-calls .cti-recent-call[data-outcome=missed]")
    await entry.wait_for(timeout=10_000)
    assert words["missed"] in await entry.inner_text()
    await shoot(page, f"console-recent-calls-{language}")

    await page.reload()  # from the call records, not the page's memory
    await entry.wait_for(timeout=10_000)
    await entry.locator(".cti-call-back").click()
    await until(lambda: sim.actions["Originate"] == 1)
    await page.locator("#cti-call:not([hidden])").wait_for(timeout=10_000)
    await page.click("#cti-hangup")
    await page.locator("#cti-call").wait_for(state="hidden", timeout=10_000)

    # Both agents on the call's ticket: each sees the other, and who is typing.
    ticket_link = await entry.first.locator(".cti-recent-ticket").get_attribute("href")
    assert ticket_link and ticket_link.startswith("/tickets/")
    await other.goto(site.url + ticket_link)
    await page.goto(site.url + ticket_link)
    presence = other.locator("#ticket-presence:not([hidden])")
    await presence.wait_for(timeout=10_000)
    assert words["viewing"] in await presence.inner_text()
    await page.locator(".note-form textarea").fill("Called back, no answer")
    await other.locator(".presence-replying").wait_for(timeout=10_000)
    assert words["replying"] in await presence.inner_text()
    await shoot(other, f"ticket-presence-{language}")
    await page.goto(site.url + "/queue")  # Agent leaves the ticket: gone from Agent2's page
    await other.locator("#ticket-presence").wait_for(state="hidden", timeout=10_000)
    await page.close()
    await other.close()
