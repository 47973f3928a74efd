"""``frontdesk user list|edit|disable|enable``: what an admin does from the shell, checked
the way the person affected would notice it (their console, their token, their skills)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from web_fixtures import WebSite

from config.cli import main
from config.settings import Settings
from core.records import AuditLog, User

Cli = Callable[..., Awaitable[tuple[int, str, str]]]


def logins(listing: str) -> dict[str, str]:
    """``user list`` output: login -> state (the first and last columns)."""
    return {line.split()[1]: line.split()[-1] for line in listing.strip().splitlines()[1:]}


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    cfg = tmp_path / "frontdesk.yaml"
    cfg.write_text(f"database_url: '{settings.database_url}'\n")

    async def run(*args: str) -> tuple[int, str, str]:
        def call() -> int:
            return main(["-c", str(cfg), "user", *args])
        code = await asyncio.to_thread(call)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


async def test_edit_changes_what_the_person_has_and_audits_it(site: WebSite, cli: Cli) -> None:
    code, out, err = await cli("edit", "agent2", "--skill", "billing:3", "--skill", "refunds", "--extension", "1042",
                               "--language", "es", "--name", "Lucía Gómez")
    assert code == 0, err
    assert "changed" in out
    me = await (await site.login("agent2")).api("GET", "/api/v1/me")
    assert me["user"]["display_name"] == "Lucía Gómez" and me["user"]["language"] == "es", me
    async with site.services.db.session() as session:
        user = (await session.execute(select(User).where(User.login == "agent2"))).scalar_one()
        assert user.skills == ["billing:3", "refunds"]
        assert (user.extension, user.pbx_interface) == ("1042", "PJSIP/1042")
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "user.edit"))).scalars().all()
        assert audit and audit[-1].after["skills"] == ["billing:3", "refunds"]
    code, out, _ = await cli("list")
    assert code == 0 and "agent2" in out and "billing:3" in out and "PJSIP/1042" in out


async def test_bad_values_are_refused_with_the_field_named_and_nothing_changed(site: WebSite, cli: Cli) -> None:
    for args, word in ((["--skill", "bill ing"], "skill"), (["--interface", "1001"], "interface"),
                       (["--mobile", "600123456"], "E.164"), (["--extension", "ext-9"], "extension")):
        code, _, err = await cli("edit", "agent", *args)
        assert code == 2 and word in err, (args, err)
    code, _, err = await cli("edit", "nobody", "--name", "X")
    assert code == 2 and "no such user" in err
    code, _, err = await cli("edit", "agent")
    assert code == 2 and "nothing to change" in err
    async with site.services.db.session() as session:
        user = (await session.execute(select(User).where(User.login == "agent"))).scalar_one()
        assert user.skills == [] and user.pbx_interface is None


async def test_disable_ends_the_login_at_once_and_enable_restores_it(site: WebSite, cli: Cli) -> None:
    agent = await site.login("agent")
    token = (await agent.api("POST", "/api/v1/tokens", {"name": "crm"}, status=201))["token"]
    code, out, err = await cli("disable", "agent")
    assert code == 0 and "disabled" in out, err
    assert (await agent.http.get("/api/v1/me")).status == 401  # the open browser session is gone
    robot = await site.anonymous()
    assert (await robot.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status == 401
    code, out, _ = await cli("list")
    assert "agent" not in logins(out) and "agent2" in logins(out)  # disabled people are listed with --all only
    code, out, _ = await cli("list", "--all")
    assert logins(out)["agent"] == "disabled"
    code, _, _ = await cli("enable", "agent")
    assert code == 0
    assert (await robot.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status == 200


async def test_the_last_admin_cannot_be_disabled_or_demoted(site: WebSite, cli: Cli) -> None:
    code, _, err = await cli("disable", "admin")
    assert code == 2 and "last active admin" in err
    code, _, err = await cli("edit", "admin", "--role", "ops")
    assert code == 2 and "last active admin" in err
    assert (await (await site.login("admin")).api("GET", "/api/v1/me"))["user"]["login"] == "admin"


async def test_reset_link_and_working_hours_from_the_shell(site: WebSite, cli: Cli) -> None:
    code, out, err = await cli("edit", "agent2", "--working-hours", "mon-fri 08:00-16:00")
    assert code == 0, err
    code, out, err = await cli("reset-link", "agent2")
    assert code == 0, err
    link = out.strip().splitlines()[-1]
    assert "/password/reset?token=" in link
    path = link[link.index("/password/reset"):]
    stranger = await site.anonymous()
    assert (await stranger.http.get(path)).status == 200
    token = path.split("token=")[1]
    done = await stranger.http.post("/password/reset", data={"token": token, "new": "from the shell", "repeat": "from the shell"})
    assert done.status == 200
    await site.login("agent2", "from the shell")
    code, _, err = await cli("reset-link", "nobody")
    assert code == 2 and "no such user" in err
    async with site.services.db.session() as session:
        user = (await session.execute(select(User).where(User.login == "agent2"))).scalar_one()
        assert user.working_hours == "mon-fri 08:00-16:00"
