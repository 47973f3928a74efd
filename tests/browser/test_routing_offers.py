"""In real headless Chromium: an agent ready for work is offered a new mail's ticket in the
console (pushed over the WebSocket), accepts it, and it is theirs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from web_fixtures import WebSite, console_page

from core.records import EntryKind, Ticket
from cti.events import AgentStateChanged
from routing import Contact, RuleEngine, RulesPolicy
from routing.defaults import default_rules
from routing.records import Offer
from routing.settings import RoutingSettings

pytestmark = pytest.mark.browser


async def test_an_offer_pops_in_the_console_and_is_accepted(site: WebSite, browser: Any) -> None:
    settings = RoutingSettings.model_validate({"queue_strategies": {"email": "least_busy"}, "prefer_last_agent": False})
    policy = site.services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(default_rules(settings), 0, settings))
    page = await console_page(site, browser, "agent")
    offers = page.locator("#offers")
    await offers.locator("[data-presence=ready]").click()
    await offers.locator("[data-role=presence-state]", has_text="Ready for new work").wait_for()

    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(session, Contact("email", None, subject="Printer on fire"), EntryKind.EMAIL_IN, {})
        await desk.commit_and_publish(session)
    offer = offers.locator("[data-offer]")
    await offer.wait_for(timeout=10_000)
    assert "Printer on fire" in await offer.inner_text()
    await offer.locator("[data-role=accept]").click()
    await page.wait_for_url(f"**/tickets/{accepted.ticket.id}")
    async with site.services.db.session() as session:
        ticket = await session.get(Ticket, accepted.ticket.id)
        assert ticket is not None and ticket.assignee_id == site.users["agent"].id
    await page.close()


async def test_an_agent_on_a_call_is_offered_no_email_until_the_call_ends(site: WebSite, browser: Any) -> None:
    settings = RoutingSettings.model_validate({"queue_strategies": {"email": "least_busy"}, "prefer_last_agent": False})
    policy = site.services.desk.policy
    assert isinstance(policy, RulesPolicy)
    policy.use(RuleEngine(default_rules(settings), 0, settings))
    page = await console_page(site, browser, "agent")
    offers = page.locator("#offers")
    await offers.locator("[data-presence=ready]").click()
    await offers.locator("[data-role=presence-state]", has_text="Ready for new work").wait_for()
    agent = site.users["agent"].id
    bus = site.services.bus

    async def pbx_says(state: str) -> None:  # the agent's line as the PBX reports it
        await bus.publish(AgentStateChanged("pbx", "PJSIP/1001", agent, state, "", ("support",), (agent,)))

    await pbx_says("on-call")
    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(session, Contact("email", None, subject="Invoice copy"), EntryKind.EMAIL_IN, {})
        await desk.commit_and_publish(session)
    await asyncio.sleep(1.5)  # the assigner woke for the new ticket (and its one-second look) and passed
    async with site.services.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Offer))).scalar_one() == 0
    assert await offers.locator("[data-offer]").count() == 0

    await pbx_says("ready")  # the call ended
    offer = offers.locator("[data-offer]")
    await offer.wait_for(timeout=10_000)
    assert "Invoice copy" in await offer.inner_text()
    await offer.locator("[data-role=accept]").click()
    await page.wait_for_url(f"**/tickets/{accepted.ticket.id}")
    await page.close()
