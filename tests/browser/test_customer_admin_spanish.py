"""In real headless Chromium, in Spanish: an admin imports a CSV of 1,000 customers with a few bad
rows (the dry run reports them by row, nothing is written until "Importar"), imports, searches,
merges two records of one person, links a ticket and opens a new ticket for a customer picked by
search; an agent turns an unknown caller into a customer from the pop, and links the next unknown
number to that customer. Screenshots under ``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from web_fixtures import WebSite, console_page

from config.settings import Settings, load_settings
from core.auth import Actor
from core.customers import CustomerDraft, create_customer, find_by_phone
from core.records import Customer, EntryKind, Ticket
from cti.simulator import AmiSimulator, QueueCall
from routing import Contact

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"default_language": "es"})


async def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def wait_for(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def count_customers(site: WebSite) -> int:
    async with site.services.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(Customer))).scalar() or 0)


def thousand_customers(path: Path) -> Path:
    lines = ["nombre,email,phone,tier,tags".replace("nombre", "name")]
    for i in range(1000):
        lines.append(f"Cliente {i:04d},cliente{i}@ejemplo.es,+3491{i:07d},standard,importado")
    lines[11] = "Malo Correo,correo-sin-arroba,+34919999001,standard,"   # row 12
    lines[101] = "Malo Teléfono,malo101@ejemplo.es,12ab,standard,"       # row 102
    lines[501] = "Malo Nivel,malo501@ejemplo.es,+34919999002,oro,"       # row 502
    lines[801] = "Repetido,cliente799@ejemplo.es,,standard,"             # row 802 repeats row 801
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def pick(page: Any, scope: str, text: str, choice: str) -> None:
    """Type into a customer picker and choose the result that contains ``choice``."""
    await page.fill(f"{scope} .customer-picker-q", text)
    button = page.locator(f"{scope} .customer-picker-choice", has_text=choice)
    await button.first.wait_for(timeout=10_000)
    await button.first.click()


async def test_an_admin_imports_searches_merges_and_links_in_spanish(
    site: WebSite, browser: Any, tmp_path: Path
) -> None:
    async with site.services.db.transaction() as session:
        system = Actor.system()
        lucia = await create_customer(session, system, CustomerDraft(name="Lucía Pérez", emails=["lucia@correo.es"]))
        await create_customer(session, system, CustomerDraft(name="L. Pérez", emails=["lperez@trabajo.example"]))
        await create_customer(session, system, CustomerDraft(name="Lucía (móvil)", phones=["+34600111222"]))
    page = await console_page(site, browser, "admin")
    await page.set_viewport_size({"width": 1440, "height": 900})
    assert await page.get_attribute("html", "lang") == "es"
    await page.click("nav a[href='/customers']")
    await page.wait_for_url("**/customers")
    assert "Clientes" in await page.inner_text("h1")

    # the dry run: counts and the bad rows by number, nothing written
    await page.click("a[href='/customers/import']")
    await page.set_input_files("input[name=file]", str(thousand_customers(tmp_path / "clientes.csv")))
    await page.click(".import-upload button[type=submit]")
    await page.wait_for_selector("#count-errors")
    assert await page.inner_text("#count-new") == "996"
    assert await page.inner_text("#count-errors") == "3"
    assert await page.inner_text("#count-duplicates") == "1"
    issues = await page.inner_text(".import-issues")
    assert "Simulación" in await page.inner_text("#import-summary")
    for row in ("12", "102", "502", "802"):
        assert f"\n{row}\t" in f"\n{issues}" or f"{row}\t" in issues, issues
    assert "no es un número de teléfono" in issues and "801" in issues
    assert await count_customers(site) == 3
    await shoot(page, "customers-import-preview-es")

    await page.click(".import-confirm button[type=submit]")
    await page.wait_for_selector("#import-summary:has-text('Importado')")
    assert await count_customers(site) == 999
    await shoot(page, "customers-import-done-es")

    # search the directory
    await page.goto(site.url + "/customers")
    await page.fill("main input[name=q]", "cliente42@")
    await page.click("main form.filters button[type=submit]")
    await page.wait_for_selector(".customer-list a:has-text('Cliente 0042')")
    assert await page.locator(".customer-list tbody tr").count() == 1
    await page.fill("main input[name=q]", "91 000 0043")
    await page.click("main form.filters button[type=submit]")
    await page.wait_for_selector(".customer-list a:has-text('Cliente 0043')")
    await shoot(page, "customers-search-es")

    # one person, three records: merge the other two into Lucía
    await page.goto(site.url + f"/customers/{lucia.id}")
    assert await page.get_attribute(".merge-customer .customer-picker-q", "placeholder") == "Nombre, correo o teléfono"
    await pick(page, ".merge-customer", "trabajo", "L. Pérez")
    await page.click(".merge-customer button[type=submit]")
    await page.wait_for_selector(".customer-emails:has-text('lperez@trabajo.example')")
    await pick(page, ".merge-customer", "600 111", "móvil")
    await page.click(".merge-customer button[type=submit]")
    await page.wait_for_selector(".customer-phones:has-text('+34 600 11 12 22')")
    profile = await page.inner_text("main")
    assert "lucia@correo.es" in profile and "Deshacer la fusión" in profile
    async with site.services.db.session() as session:
        assert (await find_by_phone(session, "+34600111222")).id == lucia.id  # type: ignore[union-attr]
    await shoot(page, "customers-merged-es")

    # a ticket from nobody known, linked to Lucía from the ticket page
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(session, Contact("email", None, subject="Factura sin cliente"),
                                                   EntryKind.EMAIL_IN, {"subject": "Factura sin cliente", "text": "?"})
        await site.services.desk.commit_and_publish(session)
    await page.goto(site.url + f"/tickets/{accepted.ticket.id}")
    await pick(page, ".link-customer", "lucía", "Lucía Pérez")
    await page.click(".link-customer button[type=submit]")
    await page.wait_for_selector(f".customer-panel a[href='/customers/{lucia.id}']")
    await shoot(page, "customers-ticket-linked-es")

    # "Nuevo ticket" picks the customer by search, not a number
    await page.goto(site.url + "/queue")
    await page.click("details.new-ticket summary")
    await page.fill("details.new-ticket input[name=subject]", "Cambio de dirección")
    await pick(page, "details.new-ticket", "cliente 0007", "Cliente 0007")
    await page.click("details.new-ticket form button[type=submit]")
    await page.wait_for_selector(".customer-panel h2:has-text('Cliente 0007')")
    async with site.services.db.session() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.subject == "Cambio de dirección"))).scalar_one()
        customer = await session.get_one(Customer, ticket.customer_id)
        assert customer.name == "Cliente 0007"
    await page.goto(site.url + f"/customers/{lucia.id}")
    assert "Factura sin cliente" in await page.inner_text(".customer-tickets")
    await page.close()


async def test_an_unknown_caller_becomes_a_customer_from_the_pop_in_spanish(
    phone_site: tuple[WebSite, AmiSimulator], browser: Any
) -> None:
    site, sim = phone_site
    page = await console_page(site, browser, "agent")
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.wait_for_selector("#live-state[data-state=open]")

    sim.spawn(sim.play(QueueCall("+34699000111", "", ring=["PJSIP/1001"], answered_by="PJSIP/1001",
                                 ring_s=0.5, talk_s=60).steps()))
    live = page.locator("#cti-call:not([hidden]) .cti-pop.live")
    await live.wait_for(timeout=10_000)
    form = live.locator(".cti-new-customer")
    assert "Nuevo cliente" in await form.inner_text()
    await form.locator("input[name=name]").fill("Marta Ruiz")
    await form.locator("input[name=email]").fill("marta@ejemplo.es")
    await shoot(page, "pop-unknown-caller-form-es")
    await form.locator("button[type=submit]").click()
    await live.locator(".cti-open-customer:not([hidden])").wait_for(timeout=10_000)
    assert "Marta Ruiz" in await live.locator(".cti-pop-name").inner_text()

    async def marta() -> Customer | None:
        async with site.services.db.session() as session:
            return await find_by_phone(session, "+34699000111")

    await wait_for(lambda: _exists(marta))
    found = await marta()
    assert found is not None and found.name == "Marta Ruiz" and [e.address for e in found.emails] == ["marta@ejemplo.es"]
    await page.click("#cti-hangup")
    await page.locator("#cti-call").wait_for(state="hidden", timeout=10_000)

    # the next unknown number is hers too: linked from the pop by search
    sim.spawn(sim.play(QueueCall("+34699000222", "", ring=["PJSIP/1001"], answered_by="PJSIP/1001",
                                 ring_s=0.5, talk_s=60).steps()))
    live = page.locator("#cti-call:not([hidden]) .cti-pop.live")
    await live.wait_for(timeout=10_000)
    await live.locator(".cti-link-customer .customer-picker-q").fill("marta")
    choice = live.locator(".cti-link-customer .customer-picker-choice", has_text="Marta Ruiz")
    await choice.wait_for(timeout=10_000)
    await shoot(page, "pop-link-existing-es")
    await choice.click()
    await live.locator(".cti-open-customer:not([hidden])").wait_for(timeout=10_000)
    assert "Número añadido al cliente" in await page.inner_text("#cti-message")
    async with site.services.db.session() as session:
        linked = await find_by_phone(session, "+34699000222")
        assert linked is not None and linked.id == found.id
    await page.click("#cti-hangup")
    await page.close()


async def _exists(read: Any) -> bool:
    return await read() is not None
