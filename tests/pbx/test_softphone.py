"""The console is the softphone: an agent with nothing but the browser (headless Chromium with
its fake microphone) works calls through the live Asterisk over WebRTC.

The page registers the agent's WebRTC endpoint (1006 or 1007) with per-session credentials,
rings with the screen-pop when a sipp customer calls the queue, answers in the page; Asterisk
reports the agent's channel Up and bridged with the customer and RTP counted both ways.
Click-to-dial calls out through the browser phone; a closed page pauses the agent as
"phone offline"; log-out ends the SIP password. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pbx_fixtures import AmiProbe, Lab
from sqlalchemy import update
from web_fixtures import CHROMIUM, CHROMIUM_ARGS, console_page

from core.records import User
from cti.softphone_presence import PHONE_OFFLINE

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
async def phone_browser() -> AsyncIterator[Any]:
    """Headless Chromium whose microphone is Chromium's fake one (a beep), granted without asking."""
    from conftest import need_executable

    need_executable(CHROMIUM, "Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MEDIA])
        try:
            yield chromium
        finally:
            await chromium.close()


def _shots() -> Path:
    folder = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _count(text: str) -> int:
    """A channelstats counter (``1234``, ``12K``)."""
    match = re.fullmatch(r"(\d+)([KM]?)", text)
    assert match, text
    return int(match.group(1)) * {"": 1, "K": 1000, "M": 1_000_000}[match.group(2)]


def rtp_counts(cli_output: str, endpoint: str) -> tuple[int, int]:
    """(received, sent) RTP packets of ``endpoint``'s channel in ``pjsip show channelstats``."""
    for line in cli_output.splitlines():
        tokens = line.split()
        at = next((i for i, t in enumerate(tokens) if t.startswith(f"{endpoint}-")), None)
        if at is not None and len(tokens) > at + 7:
            return _count(tokens[at + 3]), _count(tokens[at + 7])
    raise AssertionError(f"no channel of {endpoint} in:\n{cli_output}")


async def until_rtp_both_ways(lab: Lab, endpoint: str, within: float = 10.0) -> tuple[int, int]:
    """Both of the channel's RTP counters grow between two looks."""
    deadline = time.monotonic() + within
    first = rtp_counts(await asyncio.to_thread(lab.pbx.cli, "pjsip show channelstats"), endpoint)
    while True:
        await asyncio.sleep(0.5)
        now = rtp_counts(await asyncio.to_thread(lab.pbx.cli, "pjsip show channelstats"), endpoint)
        if now[0] > first[0] and now[1] > first[1]:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"RTP of {endpoint} did not flow both ways: {first} then {now}")


async def bridged_together(ami: AmiProbe, *interfaces: str) -> bool:
    channels = {c["Channel"].rsplit("-", 1)[0]: c.get("BridgeId", "") for c in await ami.channels()}
    bridges = {channels.get(i, "") for i in interfaces}
    return len(bridges) == 1 and "" not in bridges


async def until_paused(ami: AmiProbe, interface: str, paused: bool, within: float) -> dict[str, str]:
    deadline = time.monotonic() + within
    while True:
        member = (await ami.queue("support")).members.get(interface, {})
        if (member.get("Paused") == "1") == paused:
            return member
        if time.monotonic() > deadline:
            raise AssertionError(f"{interface} not {'paused' if paused else 'ready'} within {within:g}s: {member}")
        await asyncio.sleep(0.2)


async def _speaking(lab: Lab, login: str, language: str) -> None:
    assert lab.services is not None
    async with lab.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == login).values(language=language))


@pytest.mark.parametrize(("login", "extension", "language", "ready_text"), [
    ("agent5", "1006", "en", "Browser phone: ready"),
    ("agent6", "1007", "zh_CN", "浏览器电话：就绪"),
])
async def test_an_agent_works_a_queue_call_with_nothing_but_the_browser(
    live: Lab, phone_browser: Any, login: str, extension: str, language: str, ready_text: str
) -> None:
    assert live.site is not None
    await _speaking(live, login, language)
    page = await console_page(live.site, phone_browser, login)
    await page.wait_for_selector("#softphone[data-state=registered]", timeout=20_000)
    assert await page.inner_text("#softphone-state") == ready_text
    await live.console(login, queues=("support",))
    interface = f"PJSIP/{extension}"
    async with live.pbx.probe("call,agent") as ami:
        assert not (await ami.queue("support")).paused(interface)
        customer = live.customers.call("+8613800138000", "8000", "Zhang Wei", talk_ms=40_000, speaks=True)

        # It rings in the page, together with the pop.
        await page.wait_for_selector("#softphone[data-state=ringing]", timeout=15_000)
        await page.locator("#cti-pops .cti-pop").wait_for(timeout=10_000)
        assert "+86" in await page.inner_text("#cti-pops .cti-pop")
        await page.screenshot(path=str(_shots() / f"softphone-ringing-{language}.png"))

        await page.click("#softphone-answer")
        await ami.until_up(interface, "PJSIP/customer", within=15)
        assert await bridged_together(ami, interface, "PJSIP/customer")
        await page.wait_for_selector("#softphone[data-state=on-call]", timeout=10_000)
        await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
        received, sent = await until_rtp_both_ways(live, extension)
        assert received > 0 and sent > 0
        await page.screenshot(path=str(_shots() / f"softphone-on-call-{language}.png"))

        # The agent ends the call in the page, then wraps up.
        await page.click("#softphone-hangup")
        await ami.until_no_channels(within=10)
        assert await customer.wait(within=10) == 0
        await page.wait_for_selector("#softphone[data-state=registered]", timeout=10_000)
        await page.click("[data-cti-status=wrap-up]")
        await page.wait_for_selector("#cti-state[data-state=wrap-up]", timeout=10_000)
    [record] = await live.calls()
    assert (record.outcome, record.agent_id, record.queue) == ("answered", live.user_id(login), "support")
    await page.close()
