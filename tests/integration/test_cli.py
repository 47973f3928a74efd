"""The CLI as an operator uses it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.app import build_services, check_schema
from config.cli import main
from config.settings import load_settings
from core.errors import Unavailable
from core.users import authenticate


def test_user_add_creates_an_agent_who_can_log_in(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    assert main(["user", "add", "alice", "--name", "Alice", "--role", "agent", "--extension", "1001", "--password", "s3cret-pass"]) == 0
    assert "user alice added" in capsys.readouterr().out
    assert main(["user", "add", "alice", "--password", "s3cret-pass"]) == 2
    assert "exists" in capsys.readouterr().err

    async def check() -> None:
        services = build_services(load_settings(None))
        async with services.db.session() as session:
            user = await authenticate(session, "alice", "s3cret-pass")
            assert user is not None and user.pbx_interface == "PJSIP/1001"
        await services.db.close()

    asyncio.run(check())


def test_serve_refuses_an_invalid_config_with_the_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("web:\n  port: -1\nsmtp:\n  password: topsecret-value\n  hots: x\n")
    with pytest.raises(SystemExit) as exit_:
        main(["-c", str(cfg), "serve"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "web.port:" in err and "smtp.hots: unknown key" in err
    assert "topsecret-value" not in err


async def test_server_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    services = build_services(load_settings(None, database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db"))
    with pytest.raises(Unavailable, match="frontdesk migrate"):
        await check_schema(services)
    await services.db.close()


def test_serve_on_an_unmigrated_database_says_what_to_run_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert main(["serve", "--host", "127.0.0.1", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "run 'frontdesk migrate'" in err and "Traceback" not in err


def test_serve_on_a_port_in_use_names_the_port_and_the_option(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in err and f"--port {port + 1}" in err


def test_the_demo_on_a_port_in_use_names_the_port_and_the_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    monkeypatch.chdir(tmp_path)  # the demo's own database and sinks, nothing of the project's
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # returns (its companions closed), rather than leaving asyncio to cancel what it started
        assert main(["demo", "--port", str(port), "--database", f"sqlite+aiosqlite:///{tmp_path}/demo.db"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in err and f"--port {port + 1}" in err


def test_a_command_before_migrate_says_to_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert main(["user", "add", "bob", "--password", "s3cret-pass"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("frontdesk user: ") and "run 'frontdesk migrate'" in err and "Traceback" not in err


def test_migrate_against_a_database_that_is_not_there_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{port}/frontdesk")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "the database cannot be reached" in err and "database_url" in err
