"""The routing rules REST API and pages: roles, validation, save → live, replay, history, YAML, the API's join."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from web_fixtures import WebSite

from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import EntryKind, TimelineEntry, User
from routing import Contact
from routing.records import RuleVersion

VIP_REFUNDS: dict[str, Any] = {
    "name": "VIP refunds",
    "groups": [{"mode": "all", "conditions": [{"field": "tier", "op": "in", "value": ["vip"]},
                                               {"field": "keywords", "op": "contains_any", "value": ["退款", "refund"]}]}],
    "actions": {"queue": "billing", "priority": "urgent"},
}


async def _vip(site: WebSite) -> int:
    async with site.services.db.transaction() as session:
        customer = await create_customer(session, Actor.system(), CustomerDraft(name="Zhang", tier="vip", emails=["z@example.com"]))
        return customer.id


async def _mail(site: WebSite, customer: int, subject: str) -> tuple[str, int]:
    desk = site.services.desk
    async with site.services.db.session() as session:
        accepted = await desk.accept(session, Contact("email", customer, customer_tier="vip", subject=subject), EntryKind.EMAIL_IN, {})
        await desk.commit_and_publish(session)
        return accepted.ticket.queue, accepted.ticket.id


async def test_ops_save_replay_and_restore_rules_over_the_api(site: WebSite) -> None:
    customer = await _vip(site)
    await _mail(site, customer, "我要退款")
    agent, ops = await site.login("agent"), await site.login("ops")
    await agent.api("GET", "/api/v1/routing/rules", status=403)
    live = await ops.api("GET", "/api/v1/routing/rules")
    assert live["version"] == 0 and live["rules"]
    await agent.api("PUT", "/api/v1/routing/rules", json={"rules": live["rules"]}, status=403)

    bad = await ops.api("PUT", "/api/v1/routing/rules", json={"rules": [{**VIP_REFUNDS, "groups": [{"conditions": []}]}]}, status=400)
    assert bad["details"]["errors"][0]["field"] == "rules.0.groups.0.conditions"
    async with site.services.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(RuleVersion))).scalar_one() == 0

    draft = [*live["rules"], VIP_REFUNDS]
    replay = await ops.api("POST", "/api/v1/routing/replay", json={"rules": draft, "days": 7})
    assert (replay["contacts"], replay["moved"]) == (1, 1)
    assert replay["examples"][0]["after"]["queue"] == "billing"
    await ops.api("POST", "/api/v1/routing/replay", json={"rules": draft, "days": 900}, status=400)

    saved = await ops.api("PUT", "/api/v1/routing/rules", json={"rules": draft, "based_on": 0, "note": "billing"})
    assert saved["version"] == 1 and "+ rule 'VIP refunds'" in saved["diff"]
    await ops.api("PUT", "/api/v1/routing/rules", json={"rules": draft, "based_on": 0}, status=409)
    queue, ticket_id = await _mail(site, customer, "Refund for order 9")
    assert queue == "billing"
    async with site.services.db.session() as session:
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id))).scalars().one()
    assert entry.payload["routing"]["rule"] == "VIP refunds" and entry.payload["routing"]["version"] == 1
    ticket_page = await (await agent.http.get(f"/tickets/{ticket_id}")).text()
    assert "Routed by rule “VIP refunds”, version 1" in ticket_page
    assert "rule &#39;VIP refunds&#39; v1: tier = vip and keyword refund" in ticket_page

    versions = await ops.api("GET", "/api/v1/routing/versions")
    assert [v["version"] for v in versions["versions"]] == [1]
    restored = await ops.api("POST", "/api/v1/routing/versions/1/restore")
    assert restored["version"] == 2 and restored["diff"] == "no change"
    await ops.api("GET", "/api/v1/routing/versions/7", status=404)

    exported = await ops.http.get("/api/v1/routing/export")
    text = await exported.text()
    assert exported.status == 200 and "VIP refunds" in text
    imported = await ops.api("POST", "/api/v1/routing/import", data=text.replace("billing", "refunds").encode(),
                             headers={"Content-Type": "application/yaml"})
    assert imported["version"] == 3 and "billing" in imported["diff"] and "refunds" in imported["diff"]
    # a file that is not text in its charset is refused as such, and saves nothing
    for body, charset in ((b"\xff\xfe", "utf-8"), ("rules: []".encode("utf-16"), "utf-8"), (b"rules: []", "x-unknown")):
        refused = await ops.api("POST", "/api/v1/routing/import", data=body, status=400,
                                headers={"Content-Type": f"application/yaml; charset={charset}"})
        assert "not valid text" in refused["message"]
    assert (await ops.api("GET", "/api/v1/routing/rules"))["version"] == 3
    assert (await _mail(site, customer, "退款"))[0] == "refunds"

    page = await ops.http.get("/admin/routing/history")
    assert page.status == 200 and "Version 3" in await page.text()
    form = await ops.http.post("/admin/routing/history/1/restore", data={"csrf_token": ops.csrf_token}, allow_redirects=False)
    assert form.status == 303
    assert (await ops.api("GET", "/api/v1/routing/rules"))["version"] == 4
    assert (await ops.http.get("/admin/routing")).status == 200
    # The history is read in the reader's language, diffs and restore notes included.
    async with site.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == "ops").values(language="zh_CN"))
    chinese = await (await ops.http.get("/admin/routing/history")).text()
    assert "+ 规则“VIP refunds”已添加在第" in chinese and "已恢复版本 1" in chinese
    assert "added at position" not in chinese and "restored version" not in chinese


async def test_the_api_joins_the_open_ticket_only_when_asked(site: WebSite) -> None:
    customer = await _vip(site)
    agent = await site.login("agent")
    first = await agent.api("POST", "/api/v1/tickets", json={"subject": "Upgrade", "customer_id": customer}, status=201)
    second = await agent.api("POST", "/api/v1/tickets", json={"subject": "Invoice wrong", "customer_id": customer,
                                                              "priority": "low", "category": "complaint"}, status=201)
    assert (second["ticket"]["subject"], second["ticket"]["priority"], second["ticket"]["category"]) == ("Invoice wrong", "low", "complaint")
    joined = await agent.api("POST", "/api/v1/tickets", json={"subject": "More", "customer_id": customer, "join": True}, status=200)
    assert joined["created"] is False and joined["ticket"]["id"] in (first["ticket"]["id"], second["ticket"]["id"])
    bad = await agent.api("POST", "/api/v1/tickets", json={"subject": "x", "join": "yes"}, status=400)
    assert bad["details"] == {"join": "yes"}
