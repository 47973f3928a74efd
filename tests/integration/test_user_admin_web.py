"""The admin's users pages and a person's password: role checks, adding and editing people the
way routing and the phone read them, disabling that ends every login at once (sessions, tokens,
open WebSockets), one-time password links and changing one's own password."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from sqlalchemy import select
from web_fixtures import PASSWORD, StaffClient, WebSite

from agent_ui.live.access_sweep import sweep_once
from agent_ui.live.hub import LIVE_HUB
from config.cli import main
from core.records import AuditLog, User

LINK = re.compile(r"https?://[^\s<\"]+/password/reset\?token=[A-Za-z0-9_-]+")


async def form(client: StaffClient, path: str, data: dict[str, str], status: int = 303) -> str:
    answer = await client.http.post(path, data={"csrf_token": client.csrf_token or "", **data}, allow_redirects=False)
    text = await answer.text()
    assert answer.status == status, f"POST {path}: {answer.status} {text[:500]}"
    return text


async def closed_as_signed_out(ws: ClientWebSocketResponse) -> bool:
    """The server closed the socket with 4401 ("your login is gone"), which live.js obeys."""
    message = await asyncio.wait_for(ws.receive(), timeout=3)
    return message.type == WSMsgType.CLOSE and message.data == 4401


async def person(site: WebSite, login: str) -> User:
    async with site.services.db.session() as session:
        return (await session.execute(select(User).where(User.login == login))).scalar_one()


ADMIN_ROUTES = [("GET", "/admin/users"), ("GET", "/admin/users/new"), ("POST", "/admin/users/new"),
                ("GET", "/admin/users/{id}"), ("POST", "/admin/users/{id}"), ("POST", "/admin/users/{id}/disable"),
                ("POST", "/admin/users/{id}/enable"), ("POST", "/admin/users/{id}/password-link")]


@pytest.mark.parametrize("login", ["agent", "supervisor", "ops"])
async def test_only_admins_reach_the_users_pages(site: WebSite, login: str) -> None:
    client = await site.login(login)
    target = site.users["agent2"].id
    for method, route in ADMIN_ROUTES:
        path = route.replace("{id}", str(target))
        data = {"csrf_token": client.csrf_token or "", "login": "intruder", "password": "longenough1",
                "display_name": "X", "role_admin": "1"}
        answer = await client.http.request(method, path, data=data if method == "POST" else None, allow_redirects=False)
        assert answer.status == 403, f"{login} {method} {path}: {answer.status}"
    assert (await person(site, "agent2")).active
    async with site.services.db.session() as session:
        assert (await session.execute(select(User).where(User.login == "intruder"))).scalar() is None
    page = await client.api("GET", "/queue")
    assert 'href="/admin/users"' not in page


async def test_an_admin_adds_an_agent_with_skills_and_an_extension(site: WebSite) -> None:
    admin = await site.login("admin")
    page = await admin.api("GET", "/admin/users")
    assert "agent2" in page and 'href="/admin/users/new"' in page
    await form(admin, "/admin/users/new", {
        "login": "lucia", "password": "long enough pw", "display_name": "Lucía", "role_agent": "1",
        "skill_0": "billing", "level_0": "3", "skill_1": "refunds", "level_1": "1", "extension": "1042",
        "language": "es", "working_hours": "Mon-Fri 09:00-17:00, sat 10:00-14:00", "softphone": "1"})
    lucia = await person(site, "lucia")
    assert lucia.skills == ["billing:3", "refunds"] and lucia.roles == ["agent"] and lucia.softphone
    assert (lucia.extension, lucia.pbx_interface, lucia.language) == ("1042", "PJSIP/1042", "es")
    assert lucia.working_hours == "mon-fri 09:00-17:00, sat 10:00-14:00"
    await site.login("lucia", "long enough pw")
    # Edit: another role, a level changed, the extension cleared.
    await form(admin, f"/admin/users/{lucia.id}", {
        "display_name": "Lucía G.", "role_agent": "1", "role_supervisor": "1", "skill_0": "billing", "level_0": "5",
        "extension": "", "pbx_interface": "SIP/lucia"})
    lucia = await person(site, "lucia")
    assert lucia.roles == ["agent", "supervisor"] and lucia.skills == ["billing:5"]
    assert (lucia.extension, lucia.pbx_interface, lucia.display_name) == (None, "SIP/lucia", "Lucía G.")
    assert not lucia.softphone  # the box left unticked: a desk phone again
    async with site.services.db.session() as session:
        actions = [a.action for a in (await session.execute(
            select(AuditLog).where(AuditLog.entity == "user", AuditLog.entity_id == str(lucia.id)))).scalars()]
    assert actions == ["user.create", "user.edit"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"extension": "ext-9"}, "extension", "an extension is digits"),
    ({"skill_0": "bill ing"}, "skills", "a skill is a word"),
    ({"working_hours": "weekdays"}, "working_hours", "working hours are days and times"),
    ({"pbx_interface": "1001"}, "pbx_interface", "a PBX interface is TECH/resource"),
])
async def test_a_refused_value_is_shown_next_to_its_field(site: WebSite, data: dict[str, str], field: str,
                                                          message: str) -> None:
    admin = await site.login("admin")
    target = site.users["agent2"].id
    html = await form(admin, f"/admin/users/{target}", {"display_name": "Agent2", "role_agent": "1", **data}, status=400)
    assert f'id="{field}-error"' in html and message in html, html
    assert re.search(rf'name="{field if field != "skills" else "skill_0"}"[^>]*', html)
    assert (await person(site, "agent2")).skills == []
    new = await form(admin, "/admin/users/new", {"login": "x", "password": "short", "role_agent": "1"}, status=400)
    assert 'id="password-error"' in new and "at least 8 characters" in new
    taken = await form(admin, "/admin/users/new", {"login": "agent", "password": "long enough pw", "role_agent": "1"},
                       status=409)
    assert 'id="login-error"' in taken


async def test_disabling_ends_sessions_tokens_and_open_websockets_at_once(site: WebSite) -> None:
    agent = await site.login("agent2")
    token = (await agent.api("POST", "/api/v1/tokens", {"name": "crm"}, status=201))["token"]
    ws = await agent.http.ws_connect("/ws")
    hub = site.server.app[LIVE_HUB]
    for _ in range(50):
        if site.users["agent2"].id in hub.user_ids():
            break
        await asyncio.sleep(0.02)
    admin = await site.login("admin")
    await form(admin, f"/admin/users/{site.users['agent2'].id}/disable", {})
    assert await closed_as_signed_out(ws)
    assert (await agent.http.get("/api/v1/me")).status == 401
    robot = await site.anonymous()
    assert (await robot.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status == 401
    refused = await agent.http.get("/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                   "Sec-WebSocket-Version": "13"})
    assert refused.status == 401
    page = await admin.api("GET", f"/admin/users/{site.users['agent2'].id}")
    assert "/enable" in page
    await form(admin, f"/admin/users/{site.users['agent2'].id}/enable", {})
    await site.login("agent2")
    async with site.services.db.session() as session:
        actions = [a.action for a in (await session.execute(select(AuditLog).where(AuditLog.action.like("user.%")))).scalars()]
    assert "user.disable" in actions and "user.enable" in actions


async def test_a_disable_from_the_cli_closes_open_websockets_on_the_next_sweep(site: WebSite, tmp_path: Path) -> None:
    agent = await site.login("agent")
    ws = await agent.http.ws_connect("/ws")
    hub = site.server.app[LIVE_HUB]
    for _ in range(50):
        if site.users["agent"].id in hub.user_ids():
            break
        await asyncio.sleep(0.02)
    cfg = tmp_path / "frontdesk.yaml"
    cfg.write_text(f"database_url: '{site.services.settings.database_url}'\n")
    assert await asyncio.to_thread(main, ["-c", str(cfg), "user", "disable", "agent"]) == 0
    assert await sweep_once(hub, site.services.db, site.services.clock.now()) == 1
    assert await closed_as_signed_out(ws) and site.users["agent"].id not in hub.user_ids()


async def test_a_one_time_link_sets_a_new_password_once_and_ends_old_logins(site: WebSite) -> None:
    admin = await site.login("admin")
    agent = await site.login("agent")
    agent_ws = await agent.http.ws_connect("/ws")
    made = await form(admin, f"/admin/users/{site.users['agent'].id}/password-link", {}, status=201)
    links = LINK.findall(made)
    assert len(links) == 1
    path = links[0][links[0].index("/password/reset"):]
    stranger = await site.anonymous()
    page = await stranger.api("GET", path)
    assert "Agent" in page and 'name="token"' in page
    token = path.split("token=")[1]
    differ = await stranger.http.post("/password/reset", data={"token": token, "new": "brand new pw", "repeat": "other"})
    assert differ.status == 400 and "the two new passwords differ" in await differ.text()
    short = await stranger.http.post("/password/reset", data={"token": token, "new": "short", "repeat": "short"})
    assert short.status == 400 and "8 to 200 characters" in await short.text()
    done = await stranger.http.post("/password/reset", data={"token": token, "new": "brand new pw", "repeat": "brand new pw"})
    assert done.status == 200 and "Log in" in await done.text()
    assert (await agent.http.get("/api/v1/me")).status == 401  # the old login ended
    assert await closed_as_signed_out(agent_ws)  # and its open page, at once
    again = await stranger.http.post("/password/reset", data={"token": token, "new": "another pw!", "repeat": "another pw!"})
    assert again.status == 404  # used once
    assert (await stranger.http.get(path)).status == 404
    await site.login("agent", "brand new pw")
    old = await (await site.anonymous()).http.post("/login", data={"login": "agent", "password": PASSWORD},
                                                   allow_redirects=False)
    assert old.status != 303
    # A newer link replaces an unused older one.
    first = LINK.findall(await form(admin, f"/admin/users/{site.users['agent2'].id}/password-link", {}, status=201))[0]
    await form(admin, f"/admin/users/{site.users['agent2'].id}/password-link", {}, status=201)
    assert (await stranger.http.get(first[first.index("/password/reset"):])).status == 404
    async with site.services.db.session() as session:
        actions = [a.action for a in (await session.execute(select(AuditLog).where(AuditLog.action.like("user.password%")))).scalars()]
    assert actions.count("user.password_link") == 3 and actions.count("user.password_reset") == 1


async def test_a_person_changes_their_own_password_with_the_current_one(site: WebSite) -> None:
    here = await site.login("agent")
    elsewhere = await site.login("agent")
    here_ws = await here.http.ws_connect("/ws")
    elsewhere_ws = await elsewhere.http.ws_connect("/ws")
    hub = site.server.app[LIVE_HUB]
    for _ in range(50):
        if len(hub.login_keys()) == 2:
            break
        await asyncio.sleep(0.02)
    wrong = await form(here, "/settings/password", {"current": "not it", "new": "brand new pw", "repeat": "brand new pw"},
                       status=400)
    assert 'id="current-error"' in wrong and "the current password is wrong" in wrong
    short = await form(here, "/settings/password", {"current": PASSWORD, "new": "short", "repeat": "short"}, status=400)
    assert 'id="new-error"' in short
    forged = await here.http.post("/settings/password", data={"current": PASSWORD, "new": "brand new pw",
                                                               "repeat": "brand new pw"}, allow_redirects=False)
    assert forged.status == 403  # no CSRF token
    await form(here, "/settings/password", {"current": PASSWORD, "new": "brand new pw", "repeat": "brand new pw"})
    assert (await here.http.get("/api/v1/me")).status == 200  # this login stays
    assert (await elsewhere.http.get("/api/v1/me")).status == 401  # the other one ended
    assert await sweep_once(hub, site.services.db, site.services.clock.now()) == 1  # and its open page
    assert await closed_as_signed_out(elsewhere_ws) and not here_ws.closed
    await site.login("agent", "brand new pw")


async def test_menus_show_what_each_role_can_use(site: WebSite) -> None:
    ops = await (await site.login("ops")).api("GET", "/ops/knowledge")
    assert 'id="cti"' not in ops and 'href="/ops/quarantine"' in ops and 'href="/admin/users"' not in ops
    agent = await (await site.login("agent")).api("GET", "/queue")
    assert 'id="cti"' in agent and 'href="/ops/quarantine"' not in agent and 'href="/settings/password"' in agent
    admin = await (await site.login("admin")).api("GET", "/queue")
    assert 'href="/admin/users"' in admin and 'href="/ops/quarantine"' in admin


async def test_queues_and_mailboxes_are_shown_read_only_with_their_health(site: WebSite) -> None:
    agent = await site.login("agent")
    assert (await agent.http.get("/admin/setup")).status == 403
    ops = await site.login("ops")
    page = await ops.api("GET", "/admin/setup")
    for queue in set(site.services.settings.routing.queues.values()):
        assert f'data-queue="{queue}"' in page
    assert 'data-component="database"' in page or "No mailboxes" in page
    assert "<form" not in page.split("<main>")[1]  # nothing to change here


async def test_scripts_manage_people_over_rest_with_an_admin_token(site: WebSite) -> None:
    robot = await site.token_client("admin")
    changed = await robot.api("PATCH", "/api/v1/users/agent2", {"skills": ["billing:2"], "extension": "1050",
                                                                "working_hours": "mon-fri 09:00-17:00"})
    assert changed["user"]["skills"] == ["billing:2"] and changed["user"]["pbx_interface"] == "PJSIP/1050"
    refused = await robot.api("PATCH", "/api/v1/users/agent2", {"mobile": "600"}, status=400)
    assert refused["details"]["field"] == "mobile"
    agent = await site.token_client("agent")
    await agent.api("PATCH", "/api/v1/users/agent2", {"roles": ["admin"]}, status=403)
    await agent.api("POST", "/api/v1/users/agent2/disable", status=403)
    victim = await site.login("agent2")
    ws = await victim.http.ws_connect("/ws")
    disabled = await robot.api("POST", "/api/v1/users/agent2/disable")
    assert disabled["user"]["active"] is False and await closed_as_signed_out(ws)
    await robot.api("POST", "/api/v1/users/agent2/enable")
    link = await robot.api("POST", "/api/v1/users/agent2/password-link", status=201)
    assert "/password/reset?token=" in link["link"]
    await robot.api("POST", "/api/v1/users/admin/disable", status=409)  # the last admin stays


async def test_a_disabled_supervisors_wallboard_socket_ends_at_once(site: WebSite) -> None:
    supervisor = await site.login("supervisor")
    ws = await supervisor.http.ws_connect("/wallboard/ws")
    first = await asyncio.wait_for(ws.receive(), timeout=10)  # the whole board
    assert first.type == WSMsgType.TEXT
    admin = await site.login("admin")
    await form(admin, f"/admin/users/{site.users['supervisor'].id}/disable", {})
    for _ in range(20):  # board frames may be on their way before the close
        message = await asyncio.wait_for(ws.receive(), timeout=5)
        if message.type != WSMsgType.TEXT:
            break
    assert message.type == WSMsgType.CLOSE and message.data == 4401
