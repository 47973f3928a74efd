"""The REST API as another system uses it: tickets, customers, users, errors, OpenAPI."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from web_fixtures import StaffClient, WebSite

from config.settings import Settings, load_settings
from core.records import AuditLog, Customer, Ticket

MAX_BODY = 4096


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"max_body_bytes": MAX_BODY})


async def count(site: WebSite, model: type) -> int:
    async with site.services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def open_ticket(client: StaffClient, **fields: object) -> dict:
    body = await client.api("POST", "/api/v1/tickets", json={"subject": "Printer on fire", **fields}, status=201)
    return body["ticket"]


async def test_an_agent_opens_works_and_solves_a_ticket(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket = await open_ticket(agent, body="Smoke everywhere", priority="urgent", category="complaint")
    assert ticket["tag"] == f"#{ticket['id'] + 1000}"
    assert (ticket["channel"], ticket["priority"], ticket["category"]) == ("web", "urgent", "complaint")
    path = f"/api/v1/tickets/{ticket['id']}"

    listed = await agent.api("GET", "/api/v1/tickets?channel=web")
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]
    assert (await agent.api("GET", "/api/v1/tickets?mine=1"))["tickets"] == []

    taken = await agent.api("PATCH", path, json={"assignee_id": site.users["agent"].id})
    assert taken["ticket"]["assignee"] == "Agent"
    assert taken["ticket"]["status"] == "open"
    mine = await agent.api("GET", "/api/v1/tickets?mine=1")
    assert [t["id"] for t in mine["tickets"]] == [ticket["id"]]

    await agent.api("POST", path + "/notes", json={"text": "Called the fire brigade"}, status=201)
    solved = await agent.api("PATCH", path, json={"status": "solved", "priority": "low"})
    assert (solved["ticket"]["status"], solved["ticket"]["priority"]) == ("solved", "low")
    assert (await agent.api("GET", "/api/v1/tickets"))["tickets"] == []  # no longer open
    assert len((await agent.api("GET", "/api/v1/tickets?status=solved"))["tickets"]) == 1

    timeline = (await agent.api("GET", path + "/timeline"))["entries"]
    kinds = [e["kind"] for e in timeline]
    assert kinds == ["note", "assignment", "note", "status_change"]
    assert timeline[0]["payload"]["text"] == "Smoke everywhere"
    assert timeline[-1]["payload"] == {"from": "open", "to": "solved"}


async def test_an_agent_cannot_drop_a_colleagues_ticket(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket = await open_ticket(agent)
    path = f"/api/v1/tickets/{ticket['id']}"
    handed = await agent.api("PATCH", path, json={"assignee_id": site.users["agent2"].id})
    assert handed["ticket"]["assignee"] == "Agent2"
    refused = await agent.api(
        "PATCH", path, json={"assignee_id": None, "status": "pending-customer"}, status=403
    )
    assert refused["error"] == "forbidden"
    assert "supervisor" in refused["message"]
    unchanged = (await agent.api("GET", path))["ticket"]
    assert (unchanged["assignee_id"], unchanged["status"]) == (site.users["agent2"].id, "open")

    supervisor = await site.login("supervisor")
    given = await supervisor.api("PATCH", path, json={"assignee_id": site.users["agent"].id})
    assert given["ticket"]["assignee"] == "Agent"


async def test_bad_ticket_input_is_refused_and_writes_nothing(site: WebSite) -> None:
    agent = await site.login("agent")
    ticket = await open_ticket(agent)
    path = f"/api/v1/tickets/{ticket['id']}"
    for body, wanted in [
        ({"status": "exploded"}, "unknown status"),
        ({"priority": "whenever"}, "priority must be"),
        ({"colour": "red"}, "send one or more of"),
        ({}, "send one or more of"),
        ({"priority": "high", "status": "nonsense"}, "unknown status"),
    ]:
        answer = await agent.api("PATCH", path, json=body, status=400)
        assert answer["error"] == "invalid-input"
        assert wanted in answer["message"]
    assert (await agent.api("GET", path))["ticket"]["priority"] == "normal"
    await agent.api("POST", "/api/v1/tickets", json={"subject": "  "}, status=400)
    await agent.api("POST", "/api/v1/tickets", json={"subject": "x", "customer_id": 999}, status=400)
    await agent.api("GET", "/api/v1/tickets/999", status=404)
    await agent.api("GET", "/api/v1/tickets/abc", status=400)
    await agent.api("GET", "/api/v1/tickets?status=bogus", status=400)
    assert await count(site, Ticket) == 1


async def test_malformed_json_and_oversized_bodies_get_clear_errors(site: WebSite) -> None:
    agent = await site.login("agent")
    headers = {"X-CSRF-Token": agent.csrf_token or "", "Content-Type": "application/json"}
    response = await agent.http.post("/api/v1/tickets", data=b'{"subject": ', headers=headers)
    assert response.status == 400
    assert (await response.json())["message"] == "the request body is not valid JSON"
    response = await agent.http.post("/api/v1/tickets", data=b'["a list"]', headers=headers)
    assert response.status == 400
    assert (await response.json())["message"] == "the request body must be a JSON object"
    big = b'{"subject": "' + b"x" * (MAX_BODY * 2) + b'"}'
    response = await agent.http.post("/api/v1/tickets", data=big, headers=headers)
    assert response.status == 413
    answer = await response.json()
    assert answer["error"] == "request-too-large"
    assert str(MAX_BODY) in answer["message"]
    assert await count(site, Ticket) == 0


async def test_unknown_routes_and_methods_answer_in_json(site: WebSite) -> None:
    agent = await site.login("agent")
    assert (await agent.api("GET", "/api/v1/nothing-here", status=404))["error"] == "not-found"
    assert (await agent.api("DELETE", "/api/v1/tickets", status=405))["error"] == "method-not-allowed"
    page = await agent.api("GET", "/no-such-page", status=404)
    assert "That did not work" in page


async def test_customers_are_created_found_and_updated(site: WebSite) -> None:
    agent = await site.login("agent")
    made = await agent.api(
        "POST",
        "/api/v1/customers",
        json={"name": "Li Wei", "phones": ["+86 138 0013 8000"], "emails": ["Li.Wei@Example.com"], "tier": "vip"},
        status=201,
    )
    customer = made["customer"]
    assert customer["phones"] == ["+8613800138000"]
    assert customer["emails"] == ["li.wei@example.com"]
    found = await agent.api("GET", "/api/v1/customers?q=li wei")
    assert [c["id"] for c in found["customers"]] == [customer["id"]]
    found = await agent.api("GET", "/api/v1/customers?q=13800138000")
    assert [c["id"] for c in found["customers"]] == [customer["id"]]
    path = f"/api/v1/customers/{customer['id']}"
    updated = await agent.api("PATCH", path, json={"tags": ["reseller"], "phones": ["+8613800138000", "+14155550100"]})
    assert updated["customer"]["tags"] == ["reseller"]
    assert updated["customer"]["phones"] == ["+8613800138000", "+14155550100"]
    assert (await agent.api("GET", path))["customer"]["name"] == "Li Wei"

    # A VIP customer's new ticket is routed with higher priority.
    ticket = await open_ticket(agent, customer_id=customer["id"])
    assert ticket["priority"] == "high"
    assert ticket["customer"] == "Li Wei"


async def test_an_unparseable_phone_number_is_a_400_and_nothing_is_written(site: WebSite) -> None:
    agent = await site.login("agent")
    answer = await agent.api(
        "POST", "/api/v1/customers", json={"name": "Bad Number", "phones": ["call me maybe"]}, status=400
    )
    assert answer["error"] == "invalid-input"
    assert "phone" in answer["message"]
    assert answer["details"]["value"] == "call me maybe"
    assert await count(site, Customer) == 0
    made = await agent.api("POST", "/api/v1/customers", json={"name": "Ok", "phones": ["+14155550123"]}, status=201)
    path = f"/api/v1/customers/{made['customer']['id']}"
    await agent.api("PATCH", path, json={"name": "Changed", "phones": ["12"]}, status=400)
    assert (await agent.api("GET", path))["customer"]["name"] == "Ok"
    dup = await agent.api("POST", "/api/v1/customers", json={"phones": ["+1 415 555 0123"]}, status=409)
    assert dup["error"] == "conflict"
    bad = await agent.api("POST", "/api/v1/customers", json={"phones": "+14155550123"}, status=400)
    assert bad["message"] == "phones must be a list of strings"


async def test_only_an_admin_adds_users_and_everyone_sees_the_team(site: WebSite) -> None:
    agent = await site.login("agent")
    team = await agent.api("GET", "/api/v1/users")
    assert {u["login"] for u in team["users"]} == {"agent", "agent2", "supervisor", "ops", "admin"}
    new = {"login": "newbie", "password": "long enough", "roles": ["agent"], "extension": "2001"}
    refused = await agent.api("POST", "/api/v1/users", json=new, status=403)
    assert refused["message"] == "this needs the admin role"
    admin = await site.login("admin")
    made = await admin.api("POST", "/api/v1/users", json=new, status=201)
    assert made["user"]["pbx_interface"] == "PJSIP/2001"
    assert "password" not in made["user"]
    await admin.api("POST", "/api/v1/users", json=new, status=409)
    async with site.services.db.session() as session:
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "user.create"))).scalar_one()
    assert audit.actor_id == site.users["admin"].id
    assert "password" not in str(audit.after)
    me = await admin.api("GET", "/api/v1/me")
    assert me["user"]["login"] == "admin"
    assert "admin" in me["roles"]


async def test_the_openapi_document_describes_every_api_route(site: WebSite) -> None:
    anon = await site.anonymous()
    doc = await anon.api("GET", "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    app = site.server.app
    assert app is not None
    routes = {
        (r.resource.canonical, r.method.lower())
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops if method != "parameters"}
    assert routes - documented == set()
    assert documented - routes == set()
    for ops in doc["paths"].values():
        for op in ops.values():
            if isinstance(op, dict) and "$ref" not in op:
                for ref in _refs(op):
                    assert ref.split("/")[-1] in doc["components"]["schemas"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_health_and_metrics(site: WebSite) -> None:
    anon = await site.anonymous()
    assert (await anon.api("GET", "/healthz"))["status"] == "ok"
    assert (await anon.api("GET", "/readyz"))["status"] == "ready"
    agent = await site.login("agent")
    await agent.api("GET", "/api/v1/tickets/4242", status=404)
    text = await anon.api("GET", "/metrics")
    assert 'frontdesk_http_requests_total{method="GET",route="/api/v1/tickets/{ticket_id}",status="404"}' in text
    assert "frontdesk_websocket_connections" in text
    assert "frontdesk_websocket_dropped_total" in text
