"""Screens that fit (issue 14): in real headless Chromium, the wallboard, its big-screen mode,
the console (queue and a ticket) and two admin pages (SLA alerts, customers) at 1366×768,
1440×900, 1920×1080 and 3840×2160 in English, Chinese and Spanish.

Each screen is saved as a full-page screenshot under ``artifacts/screenshots/fit/`` and checked
in the page: nothing whose content is wider than a box that hides or clips it (text cut), and
nothing that reaches past its parent's or the viewport's right edge. A failure names the size,
the language, the page and the element, so the fix is in the CSS rather than in the test.

One browser and one page per language; the viewport is resized between sizes (fast enough to run
with the rest of the browser suite).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web_fixtures import WebSite, console_page

from agent_ui.wallboard.feed import WALLBOARD
from alerts.keys import SLA
from config.settings import Settings, load_settings
from core.auth import Actor
from core.clock import ManualClock
from core.records import EntryKind, User
from routing import Contact
from routing.tagging import add_tag

# Layout at every size and language: what is measured is the pages' boxes, which no database
# changes, so it runs once, in the SQLite pass (the longest test of the suite).
pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "fit"
SIZES = [(1366, 768), (1440, 900), (1920, 1080), (3840, 2160)]
LANGUAGES = ["en", "zh_CN", "es"]
# Resolves once the browser has laid the page out at its new size (two animation frames).
LAID_OUT = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

# What "does not fit" means, measured in the page (Playwright evaluates it over CDP, which the
# page's CSP does not govern). Hidden, zero-sized and visually-hidden (1px) elements are skipped;
# scroll containers may hold wider content on purpose, so only their own box is checked.
OVERFLOW_CHECK = """
() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim())
      s += '.' + el.className.trim().split(/\\s+/).join('.');
    const parent = el.parentElement;
    if (parent && !el.id) s = name(parent) + ' > ' + s;
    return s;
  };
  const scrolls = (style) => ['auto', 'scroll'].includes(style.overflowX);
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const st = getComputedStyle(p);
      if (scrolls(st)) return true;  // inside a scroll area: reaching past is scrolling, not cutting
    }
    return false;
  };
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push('page scrolls sideways: ' + document.documentElement.scrollWidth + 'px > ' + vw + 'px');
  for (const el of document.body.querySelectorAll('*')) {
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden') continue;
    if (['SCRIPT', 'STYLE', 'TEMPLATE', 'OPTION', 'BR'].includes(el.tagName)) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 2 || r.height <= 2) continue;
    if (el.closest('dialog:not([open]), [hidden]')) continue;
    const hides = ['hidden', 'clip'].includes(st.overflowX) || st.textOverflow === 'ellipsis';
    if (hides && el.scrollWidth > el.clientWidth + 1)
      problems.push('text cut in ' + name(el) + ': ' + el.scrollWidth + 'px in ' + el.clientWidth + 'px');
    if (st.position === 'fixed' || clipped(el)) continue;
    if (r.right > vw + 1)
      problems.push('past the viewport: ' + name(el) + ' right ' + Math.round(r.right) + ' > ' + vw);
    const parent = el.parentElement;
    if (parent && parent !== document.body && st.position !== 'absolute') {
      const pr = parent.getBoundingClientRect();
      if (r.right > pr.right + 1 && pr.width > 2)
        problems.push('past its parent: ' + name(el) + ' right ' + Math.round(r.right) + ' > ' + Math.round(pr.right));
    }
  }
  return problems.slice(0, 15);
}
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai")


async def _busy_desk(site: WebSite, clock: ManualClock) -> int:
    """A few tickets past their SLA, the breach levels notifying the supervisor (so the alerts
    page has rows with deliveries); returns a ticket id."""
    ticket_id = 0
    async with site.services.db.transaction() as session:
        supervisor = await session.get(User, site.users["supervisor"].id)
        assert supervisor is not None
        supervisor.mobile, supervisor.email = "+8613800138000", "supervisor@example.com"
    async with site.services.db.session() as session:
        for subject in (["Broken blender, the motor smells of smoke after two minutes",
                                     "Factura duplicada en el pedido 88213", "退货申请：包裹破损"]):
            accepted = await site.services.desk.accept(
                session, Contact("email", None, subject=subject), EntryKind.EMAIL_IN,
                {"text": subject})
            ticket_id = ticket_id or accepted.ticket.id
            # a complaint with a product, so the complaint report has rows to measure
            accepted.ticket.complaint_category, accepted.ticket.complained_at = "product-quality", clock.now()
            await add_tag(site.services.desk, session, Actor.system(), accepted.ticket.id, "product:blender pro 3000")
        await site.services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=1, hours=4))
    # Calls in two queues today, so tiles and columns carry percentages and durations ("66.7%").
    stats = site.server.app[WALLBOARD].stats
    for n, (queue, outcome, wait_s) in enumerate([
        ("support", "answered", 8.0), ("support", "answered", 35.0), ("support", "abandoned", 70.0),
        ("billing-and-refunds", "answered", 12.0), ("billing-and-refunds", "answered", 3.0),
        ("billing-and-refunds", "abandoned", 125.0),
    ]):
        stats.count_call("pbx", f"call-{n}", queue, outcome, wait_s, clock.now() - timedelta(minutes=20 * n))
    scanner = site.server.app[SLA].scanner  # type: ignore[index]
    while await scanner.scan_once():
        pass
    return ticket_id


async def _speak(site: WebSite, login: str, language: str) -> None:
    async with site.services.db.transaction() as session:
        user = await session.get(User, site.users[login].id)
        assert user is not None
        user.language = None if language == "en" else language


async def test_every_screen_fits_at_every_size_in_every_language(
    site: WebSite, browser: Any, clock: ManualClock
) -> None:
    ticket_id = await _busy_desk(site, clock)
    pages = {
        "wallboard": ("/wallboard", "#wb-state"),
        "wallboard-big": ("/wallboard?big=1", "#wb-state"),
        "queue": ("/queue", "main"),
        "ticket": (f"/tickets/{ticket_id}", "#timeline"),
        "alerts": ("/alerts", "table.alerts-log"),
        "customers": ("/customers", "main"),
        "complaints": ("/reports/complaints?by=category&key=product-quality", "#drill-down"),
    }
    # The admin and ops pages, as the people who use them see them.
    admin_pages = {
        "users": ("/admin/users", "main"),
        "user-new": ("/admin/users/new", "main"),
        "fields": ("/admin/fields", "main"),
        "privacy": ("/admin/privacy", "form.privacy-policy"),
        "views": ("/admin/views", "table.view-log"),
        "complaint-categories": ("/admin/complaint-categories", "main"),
    }
    ops_pages = {
        "routing": ("/admin/routing", "main"),
        "routing-history": ("/admin/routing/history", "main"),
        "tiers": ("/admin/tiers", "main"),
        "setup": ("/admin/setup", "main"),
        "macros": ("/macros", "main"),
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for language in LANGUAGES:
        for login, shown in (("supervisor", pages), ("admin", admin_pages), ("ops", ops_pages)):
            await _speak(site, login, language)
            page = await console_page(site, browser, login)
            for name, (path, ready) in shown.items():
                # Loaded once, then the window resized through every size, as a person does:
                # the layout is CSS only (no script reads the window's size).
                await page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
                await page.goto(site.url + path)
                await page.wait_for_selector(ready, state="attached")
                await page.wait_for_load_state("networkidle")
                for width, height in SIZES:
                    await page.set_viewport_size({"width": width, "height": height})
                    await page.evaluate(LAID_OUT)
                    await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}x{height}-{language}.png"),
                                          full_page=True)
                    problems = await page.evaluate(OVERFLOW_CHECK)
                    failures += [f"{width}x{height} {language} {name}: {p}" for p in problems]
            await page.close()
    assert not failures, "\n".join(failures)
