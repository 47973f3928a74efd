"""In real headless Chromium: an agent ready for work is offered a new mail's ticket in the
console (pushed over the WebSocket), accepts it, and it is theirs."""

from __future__ import annotations

from typing import Any

import pytest
from web_fixtures import WebSite, console_page

from core.records import EntryKind, Ticket
from routing import Contact, RuleEngine, RulesPolicy
from routing.defaults import default_rules
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
