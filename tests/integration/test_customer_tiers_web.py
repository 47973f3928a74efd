"""The CRM's updates through the API keyed by its id, the tier rules page and a customer's
page as people use them: tier, reason, override and its clearing, the "open in CRM" link."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from web_fixtures import WebSite

from config.settings import ConfigError, Settings, load_settings
from core.auth import Actor
from core.crm_links import crm_link
from core.customers import CustomerDraft, create_customer
from core.records import AuditLog, Customer, EntryKind
from core.tiering import save_rules
from cti.pop import ScreenPopService
from routing import Contact

MAX_BODY = 8192


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={
        "max_body_bytes": MAX_BODY, "crm_url": "https://crm.example.com/contacts/{external_id}"})


async def _customers(site: WebSite) -> int:
    async with site.services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Customer))).scalar_one()


async def test_the_crm_creates_and_updates_customers_by_its_id(site: WebSite) -> None:
    crm = await site.token_client("agent")
    path = "/api/v1/customers/by-external-id/CRM-77"
    made = await crm.api("PUT", path, {"name": "Zhang Wei", "emails": ["zhang@example.cn"],
                                       "attributes": {"lifetime_value": 12000, "contract_level": "gold"}}, status=201)
    assert made["created"] and made["customer"]["external_id"] == "CRM-77"
    assert made["customer"]["attributes"] == {"lifetime_value": 12000, "contract_level": "gold"}
    same = await crm.api("PATCH", path, {"attributes": {"contract_level": None, "region": "east"}})
    assert not same["created"] and same["customer"]["id"] == made["customer"]["id"]
    assert same["customer"]["attributes"] == {"lifetime_value": 12000, "region": "east"}
    put = await crm.api("PUT", path, {"attributes": {"lifetime_value": 15000}, "tier_override": "vip"})
    assert put["customer"]["attributes"] == {"lifetime_value": 15000}
    assert (put["customer"]["tier"], put["customer"]["tier_override"]) == ("vip", "vip")
    cleared = await crm.api("PATCH", path, {"tier_override": None})
    assert cleared["customer"]["tier_override"] is None
    assert await _customers(site) == 1

    refusals = [
        ({"attributes": [1, 2]}, "attributes"),
        ({"attributes": {"lifetime value": 1}}, "attributes.lifetime value"),
        ({"attributes": {"plan": {"nested": True}}}, "attributes.plan"),
        ({"attributes": {"note": "x" * 201}}, "attributes.note"),
        ({"nickname": "Zw"}, "nickname"),
        ({"tags": "vip"}, "tags"),
        ({"tier_override": "platinum"}, "tier_override"),
        ({"emails": ["not-an-address"]}, "emails"),
    ]
    for body, field in refusals:
        answer = await crm.api("PATCH", "/api/v1/customers/by-external-id/CRM-78", body, status=400)
        assert answer["details"]["field"] == field, body
    response = await crm.http.put(path, data=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["details"]["field"] == "(body)"
    response = await crm.http.put(path, data=b'{"name": "' + b"x" * MAX_BODY + b'"}',
                                  headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert await _customers(site) == 1  # nothing half-saved
    anonymous = await site.anonymous()
    await anonymous.api("PUT", path, {"name": "x"}, status=401)
    spec = await anonymous.api("GET", "/api/v1/openapi.json")
    documented = spec["paths"]["/api/v1/customers/by-external-id/{external_id}"]
    assert {"put", "patch"} <= set(documented) and "201" in documented["put"]["responses"]


async def test_ops_manage_rules_and_the_customer_page_shows_tier_reason_override_and_crm_link(site: WebSite) -> None:
    agent = await site.login("agent")
    made = await agent.api("POST", "/api/v1/customers", {"name": "Ana", "external_id": "A 1/2",
                                                          "attributes": {"lifetime_value": 20000}}, status=201)
    cid = made["customer"]["id"]
    await agent.api("GET", "/admin/tiers", status=403)
    ops = await site.login("ops")
    form = {"csrf_token": ops.csrf_token or "", "rules-0-name": "High value", "rules-0-tier": "vip",
            "rules-0-enabled": "1", "rules-0-position": "1", "rules-0-c0-field": "attribute",
            "rules-0-c0-attribute": "lifetime_value", "rules-0-c0-op": ">=", "rules-0-c0-value": "lots"}
    page = await ops.http.post("/admin/tiers", data={**form, "action": "save"}, allow_redirects=False)
    assert page.status == 400 and 'data-field="rules-0-c0-value"' in await page.text()
    form["rules-0-c0-value"] = "10000"
    preview = await ops.http.post("/admin/tiers", data={**form, "action": "preview"})
    assert 'data-rule-count="High value"><td>High value</td><td>1</td>' in await preview.text()
    saved = await ops.http.post("/admin/tiers", data={**form, "action": "save"}, allow_redirects=False)
    assert saved.status == 303
    await ops.http.post("/admin/tiers/recompute", data={"csrf_token": ops.csrf_token or ""})
    html = await agent.api("GET", f"/customers/{cid}")
    assert "rule &#39;High value&#39;: lifetime_value &gt;= 10000" in html
    assert 'href="https://crm.example.com/contacts/A%201%2F2"' in html
    assert 'data-role="tier-override"' not in html

    await agent.http.post(f"/customers/{cid}", data={
        "csrf_token": agent.csrf_token or "", "name": "Ana", "tier": "new", "tier_reason": "asked us to"})
    html = await agent.api("GET", f"/customers/{cid}")
    assert 'data-role="tier-override"' in html and "asked us to" in html
    await agent.http.post(f"/customers/{cid}/tier/clear", data={"csrf_token": agent.csrf_token or ""})
    html = await agent.api("GET", f"/customers/{cid}")
    assert 'data-role="tier-override"' not in html and "lifetime_value &gt;= 10000" in html
    async with site.services.db.session() as session:
        actions = set((await session.execute(select(AuditLog.action).where(AuditLog.entity_id == str(cid)))).scalars())
    assert {"customer.tier_override", "customer.tier_override_cleared"} <= actions
    other = await agent.api("POST", "/api/v1/customers", {"name": "No CRM id"}, status=201)
    assert "data-role=\"crm-link\"" not in await agent.api("GET", f"/customers/{other['customer']['id']}")


def test_the_crm_link_template_is_checked() -> None:
    for bad in ("javascript:alert(1)//{external_id}", "ftp://crm/{external_id}", "https://crm/{id}",
                "https://{external_id}.crm.example.com/", "https://crm/{external_id!r}", "https://crm/{"):
        with pytest.raises(ConfigError):
            load_settings(None, web={"crm_url": bad})
    assert crm_link("https://crm.example.com/c/{external_id}", None) is None
    assert crm_link("https://crm.example.com/c/{external_id}", "x?y") == "https://crm.example.com/c/x%3Fy"
    assert crm_link("https://crm.example.com/?phone={number}", None, "+8613800138000") == \
        "https://crm.example.com/?phone=%2B8613800138000"


async def test_the_pop_links_to_the_crm_only_for_a_customer_with_a_crm_id(site: WebSite) -> None:
    agent = await site.token_client("agent")
    await agent.api("PUT", "/api/v1/customers/by-external-id/C-9", {"name": "Known", "phones": ["+8613800138000"]},
                    status=201)
    await agent.api("POST", "/api/v1/customers", {"name": "Local", "phones": ["+8613900139000"]}, status=201)
    services = site.services
    pop = ScreenPopService(services.db, services.desk, services.bus, "CN", services.settings.web.crm_url)
    known = await pop.build("13800138000")
    assert known["customer"]["tier"] and known["crm_url"] == "https://crm.example.com/contacts/C-9"
    assert (await pop.build("13900139000"))["crm_url"] is None
    assert (await pop.build("13700137000"))["crm_url"] is None  # an unknown caller


async def test_the_running_server_recomputes_a_tier_when_a_contact_arrives(site: WebSite) -> None:
    services = site.services
    async with services.db.transaction() as session:
        await save_rules(session, Actor.system(), [{"name": "Writes to us", "tier": "vip",
                                                    "conditions": [{"field": "tickets", "op": ">=", "value": 1}]}])
        customer = await create_customer(session, Actor.system(), CustomerDraft(name="Eve", emails=["eve@example.com"]))
    assert customer.tier == "standard"
    async with services.db.session() as session:
        await services.desk.accept(session, Contact("email", customer.id, subject="Hello"), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    for _ in range(100):  # the server's tier worker takes it up within a second
        async with services.db.session() as session:
            if (await session.get_one(Customer, customer.id)).tier == "vip":
                break
        await asyncio.sleep(0.05)
    async with services.db.session() as session:
        assert (await session.get_one(Customer, customer.id)).tier_reason == "rule 'Writes to us': tickets >= 1"
    agent = await site.login("agent")
    queue = await agent.api("GET", "/queue")
    assert "Eve" in queue and '<span class="badge vip">VIP</span>' in queue  # the queue shows the computed tier
