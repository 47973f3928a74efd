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
from pbx_fixtures import AmiProbe, Lab, until
from sqlalchemy import update
from web_fixtures import CHROMIUM, CHROMIUM_ARGS, PASSWORD, console_page

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


async def bridged_together(ami: AmiProbe, *interfaces: str, within: float = 5.0) -> bool:
    """Whether these interfaces' channels end up in one bridge within ``within`` seconds: a
    channel is Up a moment before the queue or the transfer bridges it."""
    deadline = time.monotonic() + within
    while True:
        channels = {c["Channel"].rsplit("-", 1)[0]: c.get("BridgeId", "") for c in await ami.channels()}
        bridges = {channels.get(i, "") for i in interfaces}
        if len(bridges) == 1 and "" not in bridges:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


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
        await page.wait_for_selector("#softphone[data-state=ringing][data-ring=on]", timeout=15_000)
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


async def _registered_page(live: Lab, browser: Any, login: str = "agent5") -> Any:
    assert live.site is not None
    page = await console_page(live.site, browser, login)
    await page.wait_for_selector("#softphone[data-state=registered]", timeout=20_000)
    return page


async def _answered_queue_call(live: Lab, page: Any, ami: AmiProbe, interface: str = "PJSIP/1006") -> Any:
    customer = live.customers.call("+8613800138000", "8000", "Zhang Wei", talk_ms=60_000, speaks=True)
    await page.wait_for_selector("#softphone[data-state=ringing]", timeout=15_000)
    await page.click("#softphone-answer")
    await ami.until_up(interface, "PJSIP/customer", within=15)
    await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
    return customer


async def test_click_to_dial_calls_out_through_the_browser_phone_without_ringing_it_first(live: Lab, phone_browser: Any) -> None:
    live.phones.customers_answer(500)
    page = await _registered_page(live, phone_browser)
    # The page may connect to its own site and to the PBX's WebSocket, nowhere else.
    response = await page.reload()
    assert f"connect-src 'self' {live.pbx.ports.ws_url};" in response.headers["content-security-policy"]
    await page.wait_for_selector("#softphone[data-state=registered]", timeout=20_000)
    async with live.pbx.probe("call") as ami:
        await page.fill("#cti-dial-number", "+14155550123")
        await page.click("#cti-dial button[type=submit]")
        await ami.until_up("PJSIP/1006", "PJSIP/customer", within=15)
        assert await bridged_together(ami, "PJSIP/1006", "PJSIP/customer")
        await page.wait_for_selector("#softphone[data-state=on-call]", timeout=10_000)
        assert ami.seen("DialBegin"), "the PBX dialled the customer"
        await page.click("#softphone-hangup")
        await ami.until_no_channels(within=10)
    [record] = await live.calls()
    assert (record.direction, record.number, record.agent_id) == ("outbound", "+14155550123", live.user_id("agent5"))
    await page.close()


async def test_a_closed_page_pauses_the_agent_as_phone_offline_and_a_new_one_makes_them_ready(live: Lab, phone_browser: Any) -> None:
    page = await _registered_page(live, phone_browser)
    console = await live.console("agent5", queues=("support",))
    # What a (re)connecting server reads of the registrations: the page's phone is there.
    await live.cti.presence.resync(live.line)
    assert live.cti.presence.contacts[("live", "1006")], "PJSIPShowContacts lists the browser's contact"
    async with live.pbx.probe() as ami:
        assert not (await ami.queue("support")).paused("PJSIP/1006")
        await page.close()
        started = time.monotonic()
        member = await until_paused(ami, "PJSIP/1006", True, within=15)
        assert member.get("PausedReason") == PHONE_OFFLINE
        assert time.monotonic() - started < 15
        state = await console.next("cti.agent_state", lambda d: d.get("reason") == PHONE_OFFLINE, within=10)
        assert state["state"] == "paused"
        # The wallboard shows why the agent takes no calls.
        assert live.site is not None
        board = await console_page(live.site, phone_browser, "supervisor")
        await board.goto(live.site.url + "/wallboard")
        await board.locator("table.board.agents", has_text="Agent5").wait_for(timeout=10_000)
        await board.locator("table.board.agents tr", has_text="phone offline").wait_for(timeout=10_000)
        await board.screenshot(path=str(_shots() / "softphone-offline-wallboard-en.png"))
        await board.close()

        page = await _registered_page(live, phone_browser)
        await until_paused(ami, "PJSIP/1006", False, within=10)
        # An agent who chose a break stays on break when the phone comes back.
        await page.select_option("#cti-pause-reason", "Lunch")
        await page.click("[data-cti-status=paused]")
        await until_paused(ami, "PJSIP/1006", True, within=5)
        await page.close()
        await asyncio.sleep(live.line.settings.softphone_offline_grace_s + 1)
        page = await _registered_page(live, phone_browser)
        await asyncio.sleep(1)
        assert (await ami.queue("support")).members["PJSIP/1006"].get("PausedReason") == "Lunch"
    await page.close()


async def test_log_out_ends_the_sip_password_of_the_session(live: Lab, phone_browser: Any) -> None:
    assert live.site is not None
    context = await phone_browser.new_context()
    page = await context.new_page()
    await page.goto(live.site.url + "/login")
    await page.fill("input[name=login]", "agent5")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#softphone[data-state=registered]", timeout=20_000)
    assert "1006-softphone" in await asyncio.to_thread(live.pbx.cli, "pjsip show auths")
    password = live.cti.softphones.issued[live.user_id("agent5")].password
    # Another page of the same login: the same password, nothing rewritten at the PBX.
    await page.reload()
    await page.wait_for_selector("#softphone[data-state=registered]", timeout=20_000)
    assert live.cti.softphones.issued[live.user_id("agent5")].password == password
    # A second tab waits: one tab holds the phone.
    other_tab = await context.new_page()
    await other_tab.goto(live.site.url + "/queue")
    await other_tab.wait_for_selector("#softphone[data-state=elsewhere]", timeout=10_000)

    await page.click(".topbar form[action='/logout'] button")
    await page.wait_for_url("**/login")
    for _ in range(50):
        if "1006-softphone" not in await asyncio.to_thread(live.pbx.cli, "pjsip show auths"):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the softphone's auth object outlived the log-out")
    assert live.user_id("agent5") not in live.cti.softphones.issued
    # The other tab hears of the log-out: it does not take the phone over.
    await other_tab.wait_for_selector("#softphone[data-state=offline]", timeout=10_000)
    await asyncio.sleep(1)
    assert "1006-softphone" not in await asyncio.to_thread(live.pbx.cli, "pjsip show auths")
    await context.close()


async def test_the_agent_holds_mutes_sends_tones_and_transfers_from_the_page(live: Lab, phone_browser: Any) -> None:
    live.phones.start("1002", answer_ms=500)
    page = await _registered_page(live, phone_browser)
    await live.console("agent5", queues=("support",))
    async with live.pbx.probe("call,dtmf") as ami:
        customer = await _answered_queue_call(live, page, ami)

        await page.click("#softphone-hold")
        await page.wait_for_selector("#softphone[data-state=on-hold]", timeout=10_000)
        await until(lambda: any(e.get("Channel", "").startswith("PJSIP/1006") for e in ami.seen("Hold")), 10, "Asterisk saw the hold")
        await page.click("#softphone-resume")
        await page.wait_for_selector("#softphone[data-state=on-call]", timeout=10_000)
        await until(lambda: any(e.get("Channel", "").startswith("PJSIP/1006") for e in ami.seen("Unhold")), 10, "Asterisk saw the resume")

        # Opening the call's ticket does not leave the page the phone lives in.
        ticket_link = page.locator("main a[href^='/tickets/']").first
        await ticket_link.wait_for(timeout=10_000)
        async with page.context.expect_page() as opened:
            await ticket_link.click()
        ticket_tab = await opened.value
        await ticket_tab.wait_for_load_state()
        assert "/tickets/" in ticket_tab.url and page.url.endswith("/queue")
        await ticket_tab.wait_for_selector("#softphone[data-state=elsewhere]", timeout=5_000)  # one tab holds the phone
        await ticket_tab.close()

        await page.click("#softphone-mute")
        await page.wait_for_selector("#softphone[data-state=muted]", timeout=5_000)
        await page.click("#softphone-unmute")
        await page.wait_for_selector("#softphone[data-state=on-call]", timeout=5_000)

        await page.fill("#softphone-dtmf-digits", "42#")
        await page.click("#softphone-dtmf button[type=submit]")
        digits = lambda: [e.get("Digit") for e in ami.seen("DTMFEnd")  # noqa: E731
                          if e.get("Channel", "").startswith("PJSIP/1006") and e.get("Direction") == "Received"]
        await until(lambda: digits() == ["4", "2", "#"], 10, "Asterisk received the tones")

        await page.fill("#cti-transfer-target", "1002")
        await page.click("#cti-transfer")
        await ami.until_up("PJSIP/1002", "PJSIP/customer", within=15)
        await page.wait_for_selector("#softphone[data-state=registered]", timeout=10_000)
        customer.stop()
    await page.close()


async def test_an_attended_transfer_from_the_page_hands_the_customer_over(live: Lab, phone_browser: Any) -> None:
    live.phones.start("1002", answer_ms=500)
    page = await _registered_page(live, phone_browser)
    await live.console("agent5", queues=("support",))
    async with live.pbx.probe("call") as ami:
        customer = await _answered_queue_call(live, page, ami)
        await page.fill("#cti-transfer-target", "1002")
        await page.click("#cti-atxfer")
        await until(lambda: any(e.get("DestChannel", "").startswith("PJSIP/1002") for e in ami.seen("DialBegin")), 15,
                    "the consultation call to 1002")
        await asyncio.sleep(1.5)  # 1002 answers after 0.5 s
        await page.click("#softphone-hangup")  # hanging up hands the customer to 1002
        await ami.until_up("PJSIP/1002", "PJSIP/customer", within=15)
        assert ami.seen("AttendedTransfer")
        customer.stop()
    await page.close()


async def test_one_browser_agent_consults_another_and_hands_the_customer_over(live: Lab, phone_browser: Any) -> None:
    frank = await _registered_page(live, phone_browser, "agent5")
    grace = await _registered_page(live, phone_browser, "agent6")
    await live.console("agent5", queues=("support",))
    async with live.pbx.probe("call") as ami:
        customer = await _answered_queue_call(live, frank, ami)
        await frank.fill("#cti-transfer-target", "1007")
        await frank.click("#cti-atxfer")
        await grace.wait_for_selector("#softphone[data-state=ringing]", timeout=15_000)
        await grace.click("#softphone-answer")
        await frank.locator("#cti-message", has_text="1007 answered").wait_for(timeout=10_000)
        await frank.click("#softphone-hangup")  # hanging up hands the customer to Grace
        await ami.until_up("PJSIP/1007", "PJSIP/customer", within=15)
        assert await bridged_together(ami, "PJSIP/1007", "PJSIP/customer")
        assert ami.seen("AttendedTransfer")
        await until_rtp_both_ways(live, "1007")
        await grace.wait_for_selector("#softphone[data-state=on-call]", timeout=5_000)
        await grace.click("#softphone-hangup")
        await ami.until_no_channels(within=10)
        assert await customer.wait(within=10) == 0
    await frank.close()
    await grace.close()
