"""The console's one screen: the customer's contacts across channels, knowledge search, shortcuts, ringer."""

from __future__ import annotations

from test_console_pages import seed_ticket
from web_fixtures import WebSite


async def test_the_customer_panel_lists_recent_contacts_on_every_channel(site: WebSite) -> None:
    ticket_id = await seed_ticket(site)
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    panel = page[page.index('class="customer-panel"'):]
    history = panel[panel.index('class="history"'):panel.index("</ul>", panel.index('class="history"'))]
    assert 'class="entry-email_in"' in history and 'class="entry-call"' in history
    assert "entry-alert" not in history  # alerts are not the customer's contacts
    assert 'id="kb-search-q"' in panel  # knowledge search beside the ticket


async def test_every_console_page_loads_the_shortcuts_and_the_ringer(site: WebSite) -> None:
    agent = await site.login("agent")
    page = await agent.api("GET", "/queue")
    for script in ("live.js", "shortcuts.js", "ringer.js"):
        assert f'<script src="/static/{script}"></script>' in page
        assert (await agent.http.get(f"/static/{script}")).status == 200
