"""Templates and articles over the REST API and the ops page, as ops and agents use them."""

from __future__ import annotations

from web_fixtures import WebSite

from config.services import Services
from knowledge.transfer import sample_yaml

REFUND = {"name": "Refund", "language": "en", "subject": "Re: {{ ticket.tag }}",
          "body": "Dear {{ customer.name }}", "keywords": [{"phrase": "refund", "weight": 3}]}


async def test_ops_edit_templates_agents_read_them_and_suggestions_follow_at_once(site: WebSite) -> None:
    ops = await site.login("ops")
    agent = await site.login("agent")
    created = (await ops.api("POST", "/api/v1/templates", json=REFUND, status=201))["template"]
    await agent.api("POST", "/api/v1/templates", json={**REFUND, "name": "x"}, status=403)
    listed = await agent.api("GET", "/api/v1/templates")
    assert [t["name"] for t in listed["templates"]] == ["Refund"]
    tried = await agent.api("POST", "/api/v1/templates/suggestions", json={"subject": "Refunds?", "body": ""})
    assert tried["suggestions"][0]["matched"] == ["refund"]
    changed = {**REFUND, "keywords": ["parcel"]}
    await ops.api("PUT", f"/api/v1/templates/{created['id']}", json=changed)
    tried = await agent.api("POST", "/api/v1/templates/suggestions", json={"subject": "my parcel", "body": ""})
    assert [s["name"] for s in tried["suggestions"]] == ["Refund"]
    await ops.api("DELETE", f"/api/v1/templates/{created['id']}", status=204)
    await agent.api("GET", f"/api/v1/templates/{created['id']}", status=404)
    await agent.close()
    await ops.close()


async def test_bad_templates_come_back_as_error_json(site: WebSite) -> None:
    ops = await site.login("ops")
    unsafe = await ops.api("POST", "/api/v1/templates", json={**REFUND, "body": "{{ ''.__class__ }}"}, status=400)
    assert unsafe["error"] == "invalid-input" and "not allowed" in unsafe["message"]
    invalid = await ops.api("POST", "/api/v1/templates", json={"name": ""}, status=400)
    assert invalid["details"]["errors"][0]["field"] == "name"
    await ops.close()


async def test_yaml_round_trip_through_upload_and_download(site: WebSite) -> None:
    samples = sample_yaml().encode()
    ops = await site.login("ops")
    imported = await ops.api("POST", "/api/v1/templates/import", data=samples,
                             headers={"Content-Type": "application/yaml"})
    assert imported["imported"]["templates_created"] == 12
    exported = await ops.api("GET", "/api/v1/templates/export")
    assert "退款申请" in exported and "Solicitud de reembolso" in exported
    page = await ops.api("GET", "/ops/knowledge")
    assert "Refund request" in page and "knowledge.js" in page
    agent = await site.login("agent")
    await agent.api("GET", "/ops/knowledge", status=403)
    await agent.api("POST", "/api/v1/templates/import", data=samples, status=403)
    await agent.close()
    await ops.close()


async def test_articles_crud_and_what_the_public_sees(site: WebSite) -> None:
    ops = await site.login("ops")
    draft = {"title": "Returns", "body": "Send it back within 30 days.", "language": "en", "published": False}
    article = (await ops.api("POST", "/api/v1/articles", json=draft, status=201))["article"]
    anon = await site.anonymous()
    await anon.api("GET", f"/help/{article['id']}", status=404)
    await ops.api("PUT", f"/api/v1/articles/{article['id']}", json={**draft, "published": True})
    assert "30 days" in await anon.api("GET", f"/help/{article['id']}")
    found = await ops.api("GET", "/api/v1/articles", params={"q": "returned"})
    assert [a["title"] for a in found["articles"]] == ["Returns"]
    await anon.api("GET", "/api/v1/articles", status=401)
    await ops.api("DELETE", f"/api/v1/articles/{article['id']}", status=204)
    await anon.close()
    await ops.close()


async def test_supervisors_see_which_templates_replies_were_sent_from(site: WebSite, services: Services) -> None:
    ops = await site.login("ops")
    used = (await ops.api("POST", "/api/v1/templates", json=REFUND, status=201))["template"]
    await ops.api("POST", "/api/v1/templates", json={**REFUND, "name": "Unused"}, status=201)
    async with services.db.transaction() as session:
        await services.templates.record_use(session, used["id"], None, None)
        await services.templates.record_use(session, used["id"], None, None)
    supervisor = await site.login("supervisor")
    usage = (await supervisor.api("GET", "/api/v1/templates/usage"))["usage"]
    assert [(u["name"], u["uses"]) for u in usage] == [("Refund", 2), ("Unused", 0)]
    later = await supervisor.api("GET", "/api/v1/templates/usage", params={"since": "2999-01-01"})
    assert [u["uses"] for u in later["usage"]] == [0, 0]
    await supervisor.api("GET", "/api/v1/templates/usage", params={"since": "soon"}, status=400)
    agent = await site.login("agent")
    await agent.api("GET", "/api/v1/templates/usage", status=403)
    for client in (agent, supervisor, ops):
        await client.close()
