"""The role matrix over every route the app serves: anonymous callers never get data, and an
agent never reaches a supervisor's or ops' route (issue 10, regression suite).

Routes come from the app's own router, so a route added anywhere is walked without editing
this file: an anonymous caller must be refused there unless the route is listed in
``PUBLIC``, and a route under an ops prefix must refuse an agent unless declared otherwise.
"""

from __future__ import annotations

from typing import Any

from web_fixtures import ServedRoute, StaffClient, WebSite, served_routes

# Routes that answer without a session, each with why that is safe. (An entry for a route
# the app does not serve grants nothing; RESTRICTED below, by contrast, must not go stale.)
PUBLIC: dict[str, str] = {
    "GET /healthz": "liveness probe, no data",
    "GET /readyz": "readiness probe, no data",
    "GET /metrics": "process figures for Prometheus, no customer data",
    "GET /login": "the login form",
    "POST /login": "the login itself (Origin-checked)",
    "POST /logout": "ends a session; without one it only redirects",
    "GET /api/v1/openapi.json": "the API's description",
    "GET /help": "the public help centre (published articles only)",
    "GET /help/{id}": "one published help article",
    "GET /api/v1/help/articles": "published help articles as JSON",
    "GET /help/new": "the public request form (no data shown)",
    "POST /help/new": "a customer's request: honeypot, signed time token, rate limits, Origin-checked",
    "POST /help/{id}/solved": "counts a deflection for a published article, nothing else (Origin-checked)",
    "GET /help/sign-in": "the customers' sign-in form (an email address, no data shown)",
    "POST /help/sign-in": "mails a one-time link if a customer has the address; the same page either way",
    "GET /help/sign-in/{token}": "a button that uses the link (no data shown, nothing used up)",
    "POST /help/sign-in/{token}": "a valid one-time link opens a customer session (Origin-checked); else 404",
    "POST /help/sign-out": "ends a customer session (its own CSRF token)",
    "GET /help/requests": "a signed-in customer's own tickets (customer session, never a staff one)",
    "GET /help/requests/{id}": "one of the signed-in customer's own tickets, public messages only; others 404",
    "POST /help/requests/{id}/reply": "the signed-in customer's reply on their own ticket (customer CSRF token)",
    "GET /help/rate/{id}/{rating}": "rates a solved ticket once, only with a signed, expiring link; else 404",
    "POST /help/rate/{id}/{rating}": "adds a comment to that rating, only with the same signed link (Origin-checked)",
    "POST /api/v1/sms/inbound": "the SMS gateway's webhook: refused unless signed",
    "POST /api/v1/tokens/password": "a script trades a login and password for a token, like the login form",
    "GET /static/{name}": "scripts and styles",
    "GET /password/reset": "a one-time password link's page: 404 unless the link is valid, names only its person",
    "POST /password/reset": "sets a password only with a valid one-time link (Origin-checked)",
    "GET /static/vendor/{name}": "third-party scripts shipped as they are (the softphone's JsSIP) and their licences",
}

# Routes only some roles may use ("supervisor", "ops", "admin": the personas allowed; an
# admin holds every role). Everyone else, the agent first, must get 403.
RESTRICTED: dict[str, set[str]] = {
    "GET /api/v1/mail/quarantine": {"ops"},
    "GET /api/v1/mail/quarantine/{quarantine_id}": {"ops"},
    "POST /api/v1/mail/quarantine/{quarantine_id}/retry": {"ops"},
    "GET /ops/quarantine": {"ops"},
    "GET /ops/quarantine/{quarantine_id}": {"ops"},
    "POST /ops/quarantine/{quarantine_id}/retry": {"ops"},
    "GET /ops/knowledge": {"ops"},
    "POST /ops/knowledge/import": {"ops"},
    "POST /api/v1/templates": {"ops"},
    "PUT /api/v1/templates/{id}": {"ops"},
    "DELETE /api/v1/templates/{id}": {"ops"},
    "GET /api/v1/templates/export": {"ops"},
    "POST /api/v1/templates/import": {"ops"},
    "GET /api/v1/templates/usage": {"supervisor", "ops"},
    "POST /api/v1/articles": {"ops"},
    "PUT /api/v1/articles/{id}": {"ops"},
    "DELETE /api/v1/articles/{id}": {"ops"},
    "GET /api/v1/alerts": {"supervisor"},
    "GET /alerts": {"supervisor"},
    "GET /api/v1/sla/policies": {"supervisor", "ops"},
    "PUT /api/v1/sla/policies/{name}": {"ops"},
    "DELETE /api/v1/sla/policies/{name}": {"ops"},
    "PUT /api/v1/sla/calendars/{name}": {"ops"},
    "GET /admin/sla": {"supervisor", "ops"},
    "POST /admin/sla": {"ops"},
    "POST /api/v1/users": {"admin"},
    "PATCH /api/v1/users/{login}": {"admin"},
    "POST /api/v1/users/{login}/disable": {"admin"},
    "POST /api/v1/users/{login}/enable": {"admin"},
    "POST /api/v1/users/{login}/password-link": {"admin"},
    "GET /admin/users": {"admin"},
    "GET /admin/users/new": {"admin"},
    "POST /admin/users/new": {"admin"},
    "GET /admin/users/{user_id}": {"admin"},
    "POST /admin/users/{user_id}": {"admin"},
    "POST /admin/users/{user_id}/disable": {"admin"},
    "POST /admin/users/{user_id}/enable": {"admin"},
    "POST /admin/users/{user_id}/password-link": {"admin"},
    "GET /admin/sla/policies/{name}": {"ops"},
    "POST /admin/sla/policies/{name}": {"ops"},
    "GET /admin/sla/calendars/{name}": {"ops"},
    "POST /admin/sla/calendars/{name}": {"ops"},
    "GET /admin/setup": {"supervisor", "ops"},
    "GET /admin/tiers": {"ops"},
    "POST /admin/tiers": {"ops"},
    "POST /admin/tiers/recompute": {"ops"},
    "GET /wallboard": {"supervisor"},
    "GET /wallboard/ws": {"supervisor"},
    "GET /reports": {"supervisor"},
    "GET /reports/{kind}.csv": {"supervisor"},
    "GET /admin/webhooks": {"ops"},
    "POST /admin/webhooks": {"ops"},
    "GET /admin/webhooks/{webhook_id}": {"ops"},
    "POST /admin/webhooks/{webhook_id}/test": {"ops"},
    "POST /admin/webhooks/{webhook_id}/enable": {"ops"},
    "POST /admin/webhooks/{webhook_id}/disable": {"ops"},
    "POST /admin/webhooks/{webhook_id}/delete": {"ops"},
    "GET /api/v1/webhooks": {"ops"},
    "POST /api/v1/webhooks": {"ops"},
    "GET /api/v1/webhooks/{webhook_id}": {"ops"},
    "PATCH /api/v1/webhooks/{webhook_id}": {"ops"},
    "DELETE /api/v1/webhooks/{webhook_id}": {"ops"},
    "POST /api/v1/webhooks/{webhook_id}/test": {"ops"},
    "GET /api/v1/webhooks/{webhook_id}/deliveries": {"ops"},
    "GET /customers/{customer_id}/privacy": {"admin"},
    "GET /admin/views": {"admin"},
    "GET /admin/privacy": {"admin"},
    "POST /admin/privacy": {"admin"},
    "POST /customers/{customer_id}/erase": {"admin"},
    "GET /api/v1/customers/{customer_id}/export": {"admin"},
    "POST /api/v1/customers/{customer_id}/erase": {"admin"},
    "GET /reports/complaints": {"supervisor"},
    "GET /reports/complaints.csv": {"supervisor"},
    "GET /admin/complaint-categories": {"admin"},
    "POST /admin/complaint-categories": {"admin"},
    "POST /api/v1/cti/calls/{linkedid}/wrap-up": {"agent", "supervisor"},
}
# Whatever is added under these prefixes later refuses an agent, declared here or not.
STAFF_ONLY_PREFIXES = ("/ops/", "/admin/", "/api/v1/mail/quarantine")

# A body that passes validation, for routes that would otherwise refuse {} before looking
# at the role (so a 400 cannot hide a missing role check).
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/templates": {"json": {"name": "t", "body": "b"}},
    "PUT /api/v1/templates/{id}": {"json": {"name": "t", "body": "b"}},
    "POST /api/v1/articles": {"json": {"title": "t", "body": "b"}},
    "PUT /api/v1/articles/{id}": {"json": {"title": "t", "body": "b"}},
    "POST /admin/sla": {"data": {"kind": "calendar", "definition": "name: c\ntimezone: UTC\n"}},
    "POST /api/v1/users": {"json": {"login": "newbie", "password": "long enough pw", "roles": ["agent"]}},
}


def key(route: ServedRoute) -> str:
    method = "GET" if route.method == "HEAD" else route.method
    return f"{method} {route.canonical}"


async def call(client: StaffClient, route: ServedRoute, broken: bool = False) -> int:
    body = BODIES.get(key(route), {"json": {}} if route.changes_state else {})
    if broken:
        body = {"data": b"{not json"}
    headers = {"Accept": "application/json"}
    if broken:
        headers["Content-Type"] = "application/json"
    if client.csrf_token:
        headers["X-CSRF-Token"] = client.csrf_token
    response = await client.http.request(route.method, route.path, headers=headers, allow_redirects=False, **body)
    await response.read()
    return response.status


def ordered(routes: list[ServedRoute]) -> list[ServedRoute]:
    """Logging out last, so the sessions survive the walk."""
    return sorted(routes, key=lambda r: r.canonical == "/logout")


async def test_anonymous_callers_get_no_data_from_any_route(site: WebSite) -> None:
    anon = await site.anonymous()
    routes = served_routes(site.server.app)
    checked = 0
    for route in ordered(routes):
        for broken in (False, True):  # who is asking is checked before what is asked
            status = await call(anon, route, broken)
            assert status != 500, route
            if key(route) not in PUBLIC:
                assert status == 401, f"{route}: an anonymous caller got {status}"
        checked += 1
    assert checked == len(list(site.server.app.router.routes()))


async def test_an_anonymous_page_request_is_sent_to_the_login_page(site: WebSite) -> None:
    anon = await site.anonymous()
    for route in served_routes(site.server.app):
        if route.method != "GET" or key(route) in PUBLIC or route.path.startswith("/api/") or "ws" in route.path:
            continue
        response = await anon.http.get(route.path, allow_redirects=False)
        assert response.status == 303, route
        assert response.headers["Location"].startswith("/login?next="), route


async def test_no_role_reaches_a_route_above_it(site: WebSite) -> None:
    people = {login: await site.login(login) for login in ("agent", "supervisor", "ops")}
    await people["agent"].api("POST", "/api/v1/tickets", json={"subject": "something to look at"}, status=201)
    routes = served_routes(site.server.app)
    checked = 0
    for route in ordered(routes):
        allowed = RESTRICTED.get(key(route))
        undeclared_staff_only = allowed is None and route.path.startswith(STAFF_ONLY_PREFIXES)
        for login, client in people.items():
            status = await call(client, route)
            assert status != 500, (route, login)
            if undeclared_staff_only and login == "agent":
                assert status == 403, f"{route}: an agent reached a route under an ops prefix ({status})"
            if allowed is None:
                continue
            if login in allowed:
                assert status not in (401, 403), f"{route}: {login} is declared allowed but got {status}"
            else:
                assert status == 403, f"{route}: {login} should be refused, got {status}"
        checked += 1
    assert checked == len(list(site.server.app.router.routes()))
    assert set(RESTRICTED) <= {key(r) for r in routes}, "RESTRICTED names a route the app no longer serves"


async def test_an_admin_may_do_what_ops_and_supervisors_may(site: WebSite) -> None:
    admin = await site.login("admin")
    for route in ordered(served_routes(site.server.app)):
        if key(route) in RESTRICTED:
            assert await call(admin, route) not in (401, 403), route
