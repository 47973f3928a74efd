"""API tokens: named, ending, listed and revoked; shown once and stored hashed; a script
gets one without scraping a CSRF token; expired and revoked tokens are refused."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from web_fixtures import PASSWORD, StaffClient, WebSite

from config.cli import main
from config.settings import Settings, load_settings
from core.clock import ManualClock
from core.records import ApiToken

TOKEN = re.compile(r"fd_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"login_attempts_per_minute": 3})


async def as_robot(site: WebSite, token: str) -> StaffClient:
    robot = await site.anonymous()
    robot.http.session.headers["Authorization"] = f"Bearer {token}"
    return robot


async def works(site: WebSite, token: str) -> bool:
    robot = await site.anonymous()
    answer = await robot.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status == 200


async def test_the_page_shows_a_new_token_once_and_keeps_only_its_hash(site: WebSite) -> None:
    agent = await site.login("agent")
    page = await agent.api("GET", "/settings/tokens")
    assert "API tokens" in page and "No tokens yet." in page
    made = await agent.http.post("/settings/tokens", data={"csrf_token": agent.csrf_token or "", "name": "crm sync", "days": "30"})
    assert made.status == 201 and made.headers["Cache-Control"] == "no-store"
    html = await made.text()
    shown = TOKEN.findall(html)
    assert len(shown) == 1
    token = shown[0]
    assert await works(site, token)
    # Never again: the page lists it by name and its first characters only.
    later = await agent.api("GET", "/settings/tokens")
    assert token not in later and "crm sync" in later and token[:7] in later
    listed = await agent.api("GET", "/api/v1/tokens")
    assert [t["name"] for t in listed["tokens"]] == ["crm sync"] and token not in str(listed)
    async with site.services.db.session() as session:
        row = (await session.execute(select(ApiToken))).scalars().one()
    assert token not in (row.token_hash, row.hint, row.name) and len(row.token_hash) == 64
    expires = datetime.fromisoformat(listed["tokens"][0]["expires_at"])
    assert timedelta(days=29) < expires - site.services.clock.now() <= timedelta(days=30)


async def test_the_page_form_still_needs_the_csrf_token(site: WebSite) -> None:
    agent = await site.login("agent")
    forged = await agent.http.post("/settings/tokens", data={"name": "attacker"}, allow_redirects=False)
    assert forged.status == 403
    cross_site = await agent.http.post("/settings/tokens", data={"csrf_token": agent.csrf_token or "", "name": "x"},
                                       headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert cross_site.status == 403
    assert (await agent.api("GET", "/api/v1/tokens"))["tokens"] == []


async def test_a_script_gets_its_first_token_from_a_password_without_any_csrf(site: WebSite) -> None:
    script = await site.anonymous()
    made = await script.api("POST", "/api/v1/tokens/password", status=201,
                            json={"login": "agent", "password": PASSWORD, "name": "nightly export", "days": 7})
    assert made["name"] == "nightly export" and await works(site, made["token"])
    robot = await as_robot(site, made["token"])
    # With a token, more tokens (no CSRF: a bearer token is no ambient credential).
    more = await robot.api("POST", "/api/v1/tokens", json={"name": "second"}, status=201)
    assert await works(site, more["token"])
    # Wrong passwords are refused and rate-limited like the login form.
    for _ in range(3):
        await script.api("POST", "/api/v1/tokens/password", status=401,
                         json={"login": "agent", "password": "guess", "name": "x"})
    await script.api("POST", "/api/v1/tokens/password", status=429,
                     json={"login": "agent", "password": PASSWORD, "name": "x"})


async def test_expired_and_revoked_tokens_are_refused(site: WebSite, clock: ManualClock) -> None:
    agent = await site.login("agent")
    short = await agent.api("POST", "/api/v1/tokens", json={"name": "one day", "days": 1}, status=201)
    kept = await agent.api("POST", "/api/v1/tokens", json={"name": "kept"}, status=201)
    assert await works(site, short["token"])
    clock.advance(timedelta(days=1, seconds=1))
    robot = await site.anonymous()
    refused = await robot.api("GET", "/api/v1/me", status=401, headers={"Authorization": f"Bearer {short['token']}"})
    assert refused["message"] == "unknown, expired or revoked API token"
    agent = await site.login("agent")  # the browser login has ended too
    states = {t["name"]: t["state"] for t in (await agent.api("GET", "/api/v1/tokens"))["tokens"]}
    assert states == {"one day": "expired", "kept": "active"}
    await agent.api("DELETE", f"/api/v1/tokens/{kept['id']}")
    assert not await works(site, kept["token"])
    for bad_days in (0, -1, 367, "90", True, 10**30):
        await agent.api("POST", "/api/v1/tokens", json={"name": "x", "days": bad_days}, status=400)
    for bad_name in ("", " ", "x" * 101, "tab\tname", None, 7):
        await agent.api("POST", "/api/v1/tokens", json={"name": bad_name}, status=400)


async def test_only_ops_see_and_revoke_other_peoples_tokens(site: WebSite) -> None:
    agent, agent2, ops = await site.login("agent"), await site.login("agent2"), await site.login("ops")
    mine = await agent.api("POST", "/api/v1/tokens", json={"name": "agent's"}, status=201)
    await agent2.api("GET", "/api/v1/tokens?all=1", status=403)
    await agent2.api("GET", "/api/v1/tokens?login=agent", status=403)
    await agent2.api("DELETE", f"/api/v1/tokens/{mine['id']}", status=404)
    assert await works(site, mine["token"])
    assert (await agent2.api("GET", "/api/v1/tokens"))["tokens"] == []
    everyone = await ops.api("GET", "/api/v1/tokens?all=1")
    assert [(t["login"], t["name"]) for t in everyone["tokens"]] == [("agent", "agent's")]
    page = await ops.api("GET", "/settings/tokens")
    assert "Everyone else" in page and "agent&#39;s" in page, page
    revoked = await ops.http.post(f"/settings/tokens/{mine['id']}/revoke", data={"csrf_token": ops.csrf_token or ""},
                                  allow_redirects=False)
    assert revoked.status == 303
    assert not await works(site, mine["token"])


async def test_the_cli_adds_lists_and_revokes_tokens(
    site: WebSite, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "frontdesk.yaml"
    cfg.write_text(f"database_url: '{settings.database_url}'\n")

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(cfg), "token", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = await asyncio.to_thread(cli, "add", "supervisor", "--name", "wallboard export", "--days", "10")
    assert code == 0
    token = TOKEN.findall(out)[0]
    assert await works(site, token)
    code, out, _ = await asyncio.to_thread(cli, "list")
    assert code == 0 and "wallboard export" in out and "supervisor" in out and token not in out and "active" in out
    token_id = out.strip().splitlines()[1].split()[0]
    code, out, _ = await asyncio.to_thread(cli, "revoke", token_id)
    assert code == 0 and "revoked" in out
    assert not await works(site, token)
    code, _, err = await asyncio.to_thread(cli, "add", "nobody", "--name", "x")
    assert code == 2 and "no active user" in err
    code, _, err = await asyncio.to_thread(cli, "add", "agent", "--name", "x", "--days", "9999")
    assert code == 2 and "days" in err
