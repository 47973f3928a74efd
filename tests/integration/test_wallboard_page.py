"""The wallboard page and its live feed: who may see it, frames within a second, coalesced."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from web_fixtures import WebSite

from agent_ui.wallboard.feed import WALLBOARD
from alerts.backlog import email_backlog
from config.settings import Settings, load_settings
from core.auth import Actor
from core.records import EntryKind, Ticket, TicketStatus
from cti.events import AgentStateChanged, CallEnded
from routing.contact import Contact

TOKEN = "tv-token-01234567890"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"wallboard_token": TOKEN})


def abandoned(n: int, queue: str = "support") -> CallEnded:
    return CallEnded("pbx", f"call-{n}", "inbound", "+8613800138000", queue, "abandoned", None, 0.0, 30.0)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, wanted: str, within: float = 1.0) -> list[dict[str, Any]]:
    """Frames received until one's regions contain ``wanted``; fails after ``within`` seconds."""
    got = []
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame = json.loads(msg.data)["data"]
            got.append(frame)
            if any(wanted in html for html in frame["regions"].values()):
                return got


async def test_supervisors_and_the_tv_token_see_the_wallboard_agents_do_not(site: WebSite) -> None:
    supervisor = await site.login("supervisor")
    page = await supervisor.api("GET", "/wallboard")
    assert "Calls waiting" in page and "<svg" in page and "Service level = calls answered within 20 s" in page
    assert 'class="wallboard"' in page  # the console view, with its links
    agent = await site.login("agent")
    await agent.api("GET", "/wallboard", status=403)
    tv = await site.anonymous()
    for path in ("/wallboard?token=wrong", "/wallboard"):  # off to the login page
        await tv.api("GET", path, status=303, allow_redirects=False)
    await tv.api("GET", "/wallboard/ws?token=wrong", status=303, allow_redirects=False)
    big = await tv.api("GET", f"/wallboard?token={TOKEN}&lang=zh_CN")
    assert "big-screen" in big and "等待中的来电" in big and "topbar" not in big and "Log out" not in big


async def test_a_change_reaches_the_board_within_a_second_and_bursts_are_coalesced(site: WebSite) -> None:
    tv = await site.anonymous()
    async with tv.http.ws_connect(f"/wallboard/ws?token={TOKEN}") as ws:
        first = json.loads((await ws.receive(timeout=2)).data)["data"]
        assert set(first["regions"]) == {"summary", "queues", "agents", "backlog", "work", "charts"}
        started = time.monotonic()
        await site.services.bus.publish(abandoned(1))
        got = await frames_until(ws, 'data-queue="support"')
        assert time.monotonic() - started < 1.0
        assert got[-1]["changed_at"] is not None and 'data-figure="offered">1<' in got[-1]["regions"]["summary"]
        await site.services.bus.publish(AgentStateChanged("pbx", "PJSIP/1001", site.users["agent"].id, "paused", "lunch", ("support",)))
        got = await frames_until(ws, "lunch")
        assert "Agent" in got[-1]["regions"]["agents"]  # named as the person, not the phone line

        started = time.monotonic()
        for n in range(2, 302):  # a burst of 300 changes in about a second
            await site.services.bus.publish(abandoned(n))
            if n % 30 == 0:
                await asyncio.sleep(0.1)
        got = await frames_until(ws, 'data-figure="offered">301<', within=3.0)
        elapsed = time.monotonic() - started
        most = site.services.settings.web.wallboard.max_frames_per_second
        assert len(got) <= elapsed * most + 2, f"{len(got)} frames in {elapsed:.2f}s: not coalesced"


def mail_figures(frame: dict[str, Any]) -> tuple[str, str]:
    summary = frame["regions"]["summary"]
    return (summary.split('data-figure="emails-open">')[1].split("<")[0],
            summary.split('data-figure="emails-unanswered">')[1].split("<")[0])


async def test_emails_move_the_board_within_a_second_and_it_agrees_with_the_records(site: WebSite) -> None:
    tv = await site.anonymous()
    desk = site.services.desk
    agent = Actor.of(site.users["agent"])
    async with tv.http.ws_connect(f"/wallboard/ws?token={TOKEN}") as ws:
        first = json.loads((await ws.receive(timeout=2)).data)["data"]
        assert mail_figures(first) == ("0", "0")
        ids = []
        started = time.monotonic()
        for n in range(2):  # two emails arrive
            async with site.services.db.session() as session:
                accepted = await desk.accept(session, Contact("email", None, subject=f"Order {n}", address=f"c{n}@example.com"),
                                             EntryKind.EMAIL_IN, {"text": "where is it"})
                await desk.commit_and_publish(session)
                ids.append(accepted.ticket.id)
        got = await frames_until(ws, 'data-figure="emails-open">2<')
        assert time.monotonic() - started < 1.0 and mail_figures(got[-1]) == ("2", "2")

        started = time.monotonic()
        async with site.services.db.session() as session:  # the first is answered
            ticket = await session.get(Ticket, ids[0])
            assert ticket is not None
            await desk.record_reply(session, ticket, agent)
            await desk.commit_and_publish(session)
        got = await frames_until(ws, 'data-figure="emails-unanswered">1<')
        assert time.monotonic() - started < 1.0 and mail_figures(got[-1]) == ("2", "1")

        started = time.monotonic()
        async with site.services.db.session() as session:  # the second is solved
            await desk.set_status(session, agent, ids[1], TicketStatus.SOLVED.value)
            await desk.commit_and_publish(session)
        got = await frames_until(ws, 'data-figure="emails-open">1<')
        assert time.monotonic() - started < 1.0 and mail_figures(got[-1]) == ("1", "0")

    feed = site.server.app[WALLBOARD]
    async with site.services.db.session() as session:
        recorded = await email_backlog(session, site.services.clock.now())
    assert feed.backlog.snapshot(site.services.clock.now()).backlog == recorded
