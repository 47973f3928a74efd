"""Logging in and out, sessions, CSRF, API tokens and login rate limiting, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_fixtures import PASSWORD, WebSite
from yarl import URL

from config.settings import Settings, load_settings
from core.clock import ManualClock
from core.records import Ticket


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        None,
        database_url=database_url,
        web={"login_attempts_per_minute": 3, "secret_key": "x" * 40, "cookie_secure": False},
    )


async def ticket_count(site: WebSite) -> int:
    async with site.services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()


async def test_the_console_sends_strangers_to_the_login_page(site: WebSite) -> None:
    anon = await site.anonymous()
    response = await anon.http.get("/queue?mine=1", allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert (location.path, location.query["next"]) == ("/login", "/queue?mine=1")
    page = await anon.api("GET", "/login")
    assert 'name="password"' in page


async def test_the_api_answers_strangers_with_401_json(site: WebSite) -> None:
    anon = await site.anonymous()
    body = await anon.api("GET", "/api/v1/tickets", status=401)
    assert body["error"] == "not-authenticated"
    body = await anon.api("POST", "/api/v1/tickets", json={"subject": "x"}, status=401)
    assert body["error"] == "not-authenticated"


@pytest.mark.parametrize(("login", "password"), [("nobody", PASSWORD), ("agent", "wrong password")])
async def test_unknown_login_and_wrong_password_get_the_same_clear_refusal(
    site: WebSite, login: str, password: str
) -> None:
    anon = await site.anonymous()
    response = await anon.http.post("/login", data={"login": login, "password": password}, allow_redirects=False)
    assert response.status == 401
    assert "Unknown login or wrong password." in await response.text()
    assert "frontdesk_session" not in response.cookies


async def test_login_sets_a_protected_cookie_and_logout_ends_it(site: WebSite) -> None:
    anon = await site.anonymous()
    response = await anon.http.post(
        "/login", data={"login": "agent", "password": PASSWORD, "next": "/tickets/1"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/tickets/1"
    cookie = response.cookies["frontdesk_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    stolen = cookie.value

    agent = await site.login("agent")
    await agent.api("POST", "/logout", status=200)  # redirected to the login page
    after = await agent.api("GET", "/api/v1/me", status=401)
    assert after["error"] == "not-authenticated"

    # The first login's cookie still works; a logged-out one does not, even replayed.
    replay = await site.anonymous()
    me = await replay.api("GET", "/api/v1/me", cookies={"frontdesk_session": stolen})
    assert me["user"]["login"] == "agent"


async def test_a_forged_cookie_is_ignored(site: WebSite) -> None:
    anon = await site.anonymous()
    await anon.api("GET", "/api/v1/me", status=401, cookies={"frontdesk_session": "abc.def"})


async def test_login_redirect_never_leaves_the_site(site: WebSite) -> None:
    anon = await site.anonymous()
    response = await anon.http.post(
        "/login", data={"login": "agent", "password": PASSWORD, "next": "//evil.example/x"}, allow_redirects=False
    )
    assert response.headers["Location"] == "/queue"


async def test_a_state_change_without_the_csrf_token_is_refused_and_writes_nothing(site: WebSite) -> None:
    agent = await site.login("agent")
    body = await agent.api(
        "POST", "/api/v1/tickets", json={"subject": "no token"}, status=403, headers={"X-CSRF-Token": ""}
    )
    assert body["error"] == "csrf-token-invalid"
    body = await agent.api(
        "POST", "/api/v1/tickets", json={"subject": "bad token"}, status=403, headers={"X-CSRF-Token": "nope"}
    )
    assert body["error"] == "csrf-token-invalid"
    # A console form without its hidden field gets an error page, not a change.
    response = await agent.http.post("/tickets", data={"subject": "form without token"}, allow_redirects=False)
    assert response.status == 403
    assert "CSRF" in await response.text()
    assert await ticket_count(site) == 0
    await agent.api("POST", "/api/v1/tickets", json={"subject": "with token"}, status=201)
    assert await ticket_count(site) == 1


async def test_an_api_token_works_without_csrf_and_a_bad_one_is_refused(site: WebSite) -> None:
    agent = await site.login("agent")
    made = await agent.api("POST", "/api/v1/me/tokens", json={"name": "crm sync"}, status=201)
    assert made["token"].startswith("fd_")
    robot = await site.anonymous()
    auth = {"Authorization": f"Bearer {made['token']}"}
    created = await robot.api("POST", "/api/v1/tickets", json={"subject": "from the CRM"}, status=201, headers=auth)
    assert created["ticket"]["subject"] == "from the CRM"
    bad = await robot.api("GET", "/api/v1/me", status=401, headers={"Authorization": "Bearer fd_nope"})
    assert bad["message"] == "unknown, expired or revoked API token"
    bad = await robot.api("GET", "/api/v1/me", status=401, headers={"Authorization": "Basic abc"})
    assert bad["error"] == "not-authenticated"


async def test_repeated_failed_logins_are_rate_limited_per_address_and_login(
    site: WebSite, clock: ManualClock
) -> None:
    anon = await site.anonymous()
    for _ in range(3):
        response = await anon.http.post("/login", data={"login": "agent", "password": "guess"}, allow_redirects=False)
        assert response.status == 401
    response = await anon.http.post("/login", data={"login": "agent", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins" in await response.text()
    # Another login from the same address is not locked out by agent's failures.
    other = await anon.http.post("/login", data={"login": "agent2", "password": PASSWORD}, allow_redirects=False)
    assert other.status == 303
    clock.advance(timedelta(seconds=61))
    response = await anon.http.post("/login", data={"login": "agent", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 303


async def test_a_login_expires(site: WebSite, clock: ManualClock) -> None:
    agent = await site.login("agent")
    await agent.api("GET", "/api/v1/me")
    clock.advance(timedelta(hours=site.services.settings.web.session_hours, seconds=1))
    await agent.api("GET", "/api/v1/me", status=401)


async def test_a_form_sent_from_another_site_is_refused(site: WebSite) -> None:
    anon = await site.anonymous()
    evil = {"Origin": "https://evil.example"}
    response = await anon.http.post(
        "/login", data={"login": "agent", "password": PASSWORD}, headers=evil, allow_redirects=False
    )
    assert response.status == 403
    agent = await site.login("agent")
    body = await agent.api("POST", "/api/v1/tickets", json={"subject": "x"}, headers=evil, status=403)
    assert body["error"] == "csrf-token-invalid"
    same = {"Origin": site.url}
    await agent.api("POST", "/api/v1/tickets", json={"subject": "x"}, headers=same, status=201)
