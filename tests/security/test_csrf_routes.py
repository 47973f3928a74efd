"""CSRF on every state-changing route: a request the browser sends with the session cookie
but without the page's token, or from another site, is refused before any handler runs
(issue 10, regression suite).

Routes come from the app's router, so a new POST/PUT/PATCH/DELETE route anywhere is checked
without editing this file; the only exemptions are listed in ``TOKEN_EXEMPT`` and tested
below for what protects them instead.
"""

from __future__ import annotations

from web_fixtures import PASSWORD, ServedRoute, StaffClient, WebSite, served_routes

EVIL = "https://evil.example"
# State-changing routes that take no CSRF token, and what protects them instead.
TOKEN_EXEMPT: dict[str, str] = {
    "POST /login": "no session yet to ride on; a foreign Origin is refused (tested below)",
}


def key(route: ServedRoute) -> str:
    return f"{route.method} {route.canonical}"


async def send(client: StaffClient, route: ServedRoute, headers: dict[str, str], form: bool = False) -> tuple[int, str]:
    headers = {"Accept": "application/json", **headers}
    body = {"data": {"x": "1"}} if form else {"json": {}}
    response = await client.http.request(route.method, route.path, headers=headers, allow_redirects=False, **body)
    payload = await response.json() if response.content_type == "application/json" else {}
    return response.status, payload.get("error", "")


def state_changing(site: WebSite) -> list[ServedRoute]:
    routes = served_routes(site.server.app)
    changing = [r for r in routes if r.changes_state]
    safe = [r for r in routes if not r.changes_state]
    assert len(changing) + len(safe) == len(list(site.server.app.router.routes()))
    assert changing, "the app serves no state-changing route?"
    return sorted(changing, key=lambda r: r.canonical == "/logout")


async def test_every_state_change_without_the_token_is_refused(site: WebSite) -> None:
    admin = await site.login("admin")  # CSRF is checked before roles: the most powerful session
    checked = 0
    for route in state_changing(site):
        for form in (False, True):
            status, error = await send(admin, route, {}, form)
            if key(route) in TOKEN_EXEMPT:
                assert status != 500, route
                continue
            assert (status, error) == (403, "csrf-token-invalid"), f"{route} (form={form}): {status} {error}"
            status, error = await send(admin, route, {"X-CSRF-Token": "not-the-token"}, form)
            assert (status, error) == (403, "csrf-token-invalid"), f"{route} with a wrong token: {status}"
        checked += 1
    assert checked == len(state_changing(site))
    assert (await admin.http.get("/api/v1/me")).status == 200  # still logged in: /logout was refused too
    assert set(TOKEN_EXEMPT) <= {key(r) for r in state_changing(site)}


async def test_every_state_change_from_another_site_is_refused_even_with_the_token(site: WebSite) -> None:
    admin = await site.login("admin")
    anon = await site.anonymous()
    routes = state_changing(site)
    for route in routes:
        status, error = await send(admin, route, {"Origin": EVIL, "X-CSRF-Token": admin.csrf_token or ""})
        assert (status, error) == (403, "csrf-token-invalid"), f"{route}: {status} {error}"
        status, error = await send(anon, route, {"Origin": EVIL})
        assert (status, error) == (403, "csrf-token-invalid"), f"{route} without a session: {status} {error}"
    assert len(routes) == len([r for r in served_routes(site.server.app) if r.changes_state])


async def test_the_same_requests_with_the_token_from_this_site_get_past_the_check(site: WebSite) -> None:
    """So the refusals above are the CSRF check, not something else refusing everything."""
    admin = await site.login("admin")
    for route in state_changing(site):
        status, error = await send(admin, route, {"Origin": site.url, "X-CSRF-Token": admin.csrf_token or ""})
        assert error != "csrf-token-invalid", route
        assert status != 500, route


async def test_the_login_form_needs_no_token_but_refuses_another_site(site: WebSite) -> None:
    anon = await site.anonymous()
    same = await anon.http.post("/login", data={"login": "agent", "password": PASSWORD},
                                headers={"Origin": site.url}, allow_redirects=False)
    assert same.status == 303
    other = await site.anonymous()
    evil = await other.http.post("/login", data={"login": "agent", "password": PASSWORD},
                                 headers={"Origin": EVIL}, allow_redirects=False)
    assert evil.status == 403
    assert "Set-Cookie" not in evil.headers


async def test_an_api_token_needs_no_csrf_token_because_the_browser_never_sends_it(site: WebSite) -> None:
    client = await site.token_client("agent")
    await client.api("POST", "/api/v1/tickets", json={"subject": "from a script"}, status=201)
