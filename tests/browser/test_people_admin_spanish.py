"""In real headless Chromium, an admin who works in Spanish adds an agent with a skill and an
extension, disables another, edits an SLA policy (with its preview) and a holiday calendar
(holidays imported from a CSV file). Screenshots are saved under ``artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_fixtures import WebSite, console_page

from alerts.records import SlaCalendar, SlaPolicy
from core.records import User

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# English the Spanish pages must not show (each is translated in the es catalog)
ENGLISH = ["Users", "Add a user", "Skills", "Extension", "Working hours", "Disable", "Save", "Escalation levels",
           "Holidays", "Import holidays from a file", "Preview for a ticket opened now", "Log out"]


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def english_left(page: Any) -> list[str]:
    text = await page.inner_text("main") + await page.inner_text("header")
    return [word for word in ENGLISH if word in text]


async def person(site: WebSite, login: str) -> User:
    async with site.services.db.session() as session:
        return (await session.execute(select(User).where(User.login == login))).scalar_one()


async def test_a_spanish_admin_manages_people_and_sla_settings(site: WebSite, browser: Any, tmp_path: Path) -> None:
    async with site.services.db.transaction() as session:
        admin = await session.get(User, site.users["admin"].id)
        assert admin is not None
        admin.language = "es"
    page = await console_page(site, browser, "admin")
    await page.set_viewport_size({"width": 1440, "height": 1000})

    # Add an agent with a skill and an extension.
    await page.click("header nav >> text=Usuarios")
    await page.wait_for_url("**/admin/users")
    assert await english_left(page) == []
    await page.click("#new-user")
    await page.wait_for_url("**/admin/users/new")
    await page.wait_for_load_state("load")
    await page.fill("input[name=login]", "lucia")
    await page.fill("input[name=password]", "una clave larga")
    await page.fill("input[name=display_name]", "Lucía Gómez")
    await page.fill("input[name=skill_0]", "facturación")
    await page.select_option("select[name=level_0]", "3")
    await page.fill("input[name=extension]", "1042")
    await page.fill("input[name=working_hours]", "mon-fri 09:00-17:00")
    await page.select_option(".person-form select[name=language]", "es")
    await shoot(page, "people-add-agent-es")
    await page.click("button:has-text('Añadir el usuario')")
    await page.wait_for_selector(".person-access")  # the person's own page
    assert await english_left(page) == []
    lucia = await person(site, "lucia")
    assert lucia.skills == ["facturación:3"] and lucia.pbx_interface == "PJSIP/1042" and lucia.roles == ["agent"]
    await shoot(page, "people-agent-added-es")

    # A refused value is shown next to its field, in Spanish.
    await page.fill("input[name=extension]", "ext-9")
    await page.click("button:visible:has-text('Guardar')")
    error = await page.inner_text("#extension-error")
    assert "una extensión son dígitos" in error

    # Disable another agent.
    await page.goto(site.url + "/admin/users")
    await page.click("a:text-is('agent2')")
    await page.click("button:has-text('Desactivar')")
    await page.wait_for_selector(".badge.person-disabled")
    assert not (await person(site, "agent2")).active
    await shoot(page, "people-agent-disabled-es")

    # Edit an SLA policy in the form, preview it, save it.
    async with site.services.db.session() as session:
        policy = (await session.execute(select(SlaPolicy).order_by(SlaPolicy.position))).scalars().first()
    assert policy is not None
    await page.goto(site.url + "/admin/sla")
    await page.click(f".sla-forms >> text={policy.name}")
    await page.wait_for_url(f"**/admin/sla/policies/{policy.name}")
    await page.fill("input[name=first_response_minutes]", "45")
    await page.fill("input[name='levels.0.at']", "80%")
    await page.check("input[name='levels.0.channels.email']")
    await page.fill("input[name='levels.0.recipients']", "assignee, supervisors")
    await page.click("button:has-text('Vista previa')")
    await page.wait_for_selector("#sla-preview")
    assert await english_left(page) == []
    await shoot(page, "sla-policy-preview-es")
    await page.click("button:visible:has-text('Guardar')")
    await page.wait_for_selector("text=Guardado.")
    async with site.services.db.session() as session:
        saved = (await session.execute(select(SlaPolicy).where(SlaPolicy.name == policy.name))).scalar_one()
    assert saved.definition["first_response_minutes"] == 45 and saved.version == policy.version + 1

    # A holiday calendar: hours, a holiday typed in, more imported from a CSV file.
    holidays = tmp_path / "festivos.csv"
    holidays.write_text("fecha,nombre\n2026-12-08,Inmaculada\n06/01/2027,Reyes\n", encoding="utf-8")
    await page.goto(site.url + "/admin/sla/calendars/new")
    await page.fill("input[name=name]", "madrid")
    await page.fill("input[name=timezone]", "Europe/Madrid")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        await page.fill(f"input[name='hours.{day}']", "09:00-14:00, 15:00-18:00")
    await page.fill("textarea[name=holidays]", "2026-12-25")
    await page.set_input_files("input[name=holiday_file]", str(holidays))
    assert await english_left(page) == []
    await page.click("button:visible:has-text('Guardar')")
    await page.wait_for_selector("text=festivos leídos del archivo")
    async with site.services.db.session() as session:
        calendar = (await session.execute(select(SlaCalendar).where(SlaCalendar.name == "madrid"))).scalar_one()
    assert calendar.definition["holidays"] == ["2026-12-08", "2026-12-25", "2027-01-06"]
    await shoot(page, "sla-calendar-holidays-es")
    await page.close()
