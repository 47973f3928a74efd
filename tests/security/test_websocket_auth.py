"""WebSockets: the console's live feed (``/ws``) and the wallboard's (``/wallboard/ws``) never
open without a session (or, for the wallboard, its token), and never for another site's page
riding on the cookie (cross-site WebSocket hijacking)."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError
from web_fixtures import StaffClient, WebSite

from config.settings import Settings, load_settings

TV_TOKEN = "tv-" + "0123456789abcdef" * 2
EVIL = "https://evil.example"
SOCKETS = ("/ws", "/wallboard/ws")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"wallboard_token": TV_TOKEN})


async def refused(client: StaffClient, path: str, origin: str | None = None) -> int:
    try:
        ws = await client.http.ws_connect(path, origin=origin)
    except WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    raise AssertionError(f"{path} opened (origin {origin})")


async def opens(client: StaffClient, path: str, origin: str | None = None) -> None:
    ws = await client.http.ws_connect(path, origin=origin)
    await ws.close()


@pytest.mark.parametrize("path", SOCKETS)
async def test_no_session_no_socket(site: WebSite, path: str) -> None:
    anon = await site.anonymous()
    assert await refused(anon, path) == 401
    assert await refused(anon, path, origin=site.url) == 401


@pytest.mark.parametrize("path", SOCKETS)
async def test_a_forged_or_ended_session_no_socket(site: WebSite, path: str) -> None:
    anon = await site.anonymous()
    anon.http.session.cookie_jar.update_cookies({"frontdesk_session": "forged.0123456789abcdef"})
    assert await refused(anon, path) == 401
    supervisor = await site.login("supervisor")
    await opens(supervisor, path)
    await supervisor.http.post("/logout", headers={"X-CSRF-Token": supervisor.csrf_token or ""})
    assert await refused(supervisor, path) == 401


@pytest.mark.parametrize("path", SOCKETS)
async def test_another_site_cannot_ride_on_the_cookie(site: WebSite, path: str) -> None:
    supervisor = await site.login("supervisor")
    assert await refused(supervisor, path, origin=EVIL) == 403
    assert await refused(supervisor, path, origin="null") == 403
    await opens(supervisor, path, origin=site.url)


async def test_an_agent_cannot_watch_the_wallboard(site: WebSite) -> None:
    agent = await site.login("agent")
    assert await refused(agent, "/wallboard/ws") == 403
    await opens(agent, "/ws")


async def test_the_wallboard_token_opens_only_the_wallboard(site: WebSite) -> None:
    tv = await site.anonymous()
    await opens(tv, f"/wallboard/ws?token={TV_TOKEN}")
    assert await refused(tv, f"/wallboard/ws?token={TV_TOKEN[:-1]}") == 401
    assert await refused(tv, f"/ws?token={TV_TOKEN}") == 401
