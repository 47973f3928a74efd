"""In real headless Chromium, an agent who picks Spanish works in Spanish: the console, the phone
panel (a customer's tier, history and pause reasons), the keyboard-shortcut help and the tokens
settings page; a Spanish customer's missed call becomes a Spanish callback ticket. Screenshots of the console and
the settings page are saved under ``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_fixtures import WebSite, console_page

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import Ticket
from cti.simulator import AmiSimulator, QueueCall

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# English words the Spanish pages must not show (each is translated in the es catalog)
ENGLISH = ["Log out", "My tickets", "Queue", "Pause reason", "Hang up", "Status", "Subject", "Updated",
           "API tokens", "Make a token", "Incoming call", "Keyboard shortcuts"]


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def subjects(site: WebSite) -> list[str]:
    async with site.services.db.session() as session:
        return list((await session.execute(select(Ticket.subject).order_by(Ticket.id))).scalars())


async def wait_for(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def english_left(text: str) -> list[str]:
    return [word for word in ENGLISH if word in text]


async def test_an_agent_who_picks_spanish_works_in_spanish(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any
) -> None:
    site, sim = phone_site
    async with site.services.db.transaction() as session:
        await create_customer(session, Actor.system(), CustomerDraft(
            name="Lucía Pérez", phones=["+34612345678"], tier="standard", language="es"))
    page = await console_page(site, browser, "agent")
    await page.set_viewport_size({"width": 1440, "height": 900})

    # the per-person picker in the top bar
    await page.select_option("select[name=language]", "es")
    await page.wait_for_selector("html[lang=es]")
    await page.wait_for_selector("#live-state[data-state=open]")
    assert "español" in await page.inner_text("select[name=language]")
    assert await page.inner_text("#cti-state") != ""

    # a missed call from the Spanish customer: a callback ticket written in Spanish
    sim.spawn(sim.play(QueueCall("+34612345678", "Lucia", ring=[], answered_by=None, abandon_s=0.3).steps()))

    async def has_callback() -> bool:
        return any(s.startswith("Devolver llamada: +34612345678") for s in await subjects(site))

    await wait_for(has_callback)

    # she calls again: the pop shows her tier and history in Spanish, never codes
    sim.spawn(sim.play(QueueCall("+34612345678", "Lucia", ring=["PJSIP/1001"], answered_by="PJSIP/1001",
                                 ring_s=1.5, talk_s=60).steps()))
    pop = page.locator("#cti-pops .cti-pop")
    await pop.wait_for(timeout=10_000)
    pop_text = await pop.inner_text()
    assert "Lucía Pérez" in pop_text and "estándar" in pop_text
    history = await page.inner_text("#cti-pops .cti-pop-history")
    assert "Llamada" in history and "call" not in history
    await page.locator("#cti-call:not([hidden]) .cti-pop.live").wait_for(timeout=10_000)
    await page.click("#cti-hangup")
    await page.locator("#cti-call").wait_for(state="hidden", timeout=10_000)

    # pause for lunch: the reason and the outcome in Spanish, not the PBX's English
    await page.select_option("#cti-pause-reason", "Lunch")
    await page.click("[data-cti-status=paused]")
    await page.wait_for_selector("#cti-state[data-state=paused]")
    assert "En pausa — Comida" in await page.inner_text("#cti-state")
    message = await page.inner_text("#cti-message")
    assert "successfully" not in message and "Interface" not in message

    # the shortcut help
    await page.click("main")
    await page.keyboard.press("?")
    help_box = page.locator("#shortcut-help")
    await help_box.wait_for()
    help_text = await help_box.inner_text()
    assert "Atajos de teclado" in help_text and "Ir a la cola" in help_text and "Colgar" in help_text
    await page.keyboard.press("?")

    await page.goto(site.url + "/queue")
    await page.wait_for_selector("#live-state[data-state=open]")
    console = await page.inner_text("body")
    assert "Cola" in console and "Cerrar sesión" in console and "Devolver llamada" in console
    assert not english_left(console), english_left(console)
    await shoot(page, "console-es")

    # a settings page: the person's API tokens
    await page.goto(site.url + "/settings/tokens")
    await page.fill("input[name=name]", "sincronización CRM")
    settings = await page.inner_text("body")
    assert "Tokens de API" in settings and "Crear un token" in settings
    assert not english_left(settings), english_left(settings)
    await shoot(page, "settings-tokens-es")
    await page.close()
