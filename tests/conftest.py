"""Shared fixtures: a migrated database (SQLite, or PostgreSQL from FRONTDESK_DATABASE_URL),
the services built from settings, and the rule for tests that need a system service."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.clock import Clock
from core.migrate import upgrade
from core.passwords import configure_hasher

# Cheap password hashing for tests; production keeps argon2's recommended cost.
configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)

# The web fixtures (a running site, logged-in clients, a browser): see tests/web_fixtures.py;
# the live PBX (Asterisk, sipp phones and customers, the served app): tests/pbx_fixtures.py.
pytest_plugins = ["web_fixtures", "cti_fixtures", "mail_fixtures", "pbx_fixtures"]

REQUIRE_SERVICES = bool(os.environ.get("FRONTDESK_REQUIRE_SERVICES"))
# Read once, then removed: each test gets its own fresh database on that server.
POSTGRES_URL = os.environ.pop("FRONTDESK_DATABASE_URL", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests (several instances sharing work) run in the PostgreSQL pass,
    SQLite-only ones (a guard only SQLite has) in the SQLite pass.

    The PostgreSQL pass exists to try the database: a test whose fixtures never make one
    (parsers, normalisers, catalogues, layout checks) would only repeat the SQLite pass's
    result, so it runs once, there."""
    on_postgres = POSTGRES_URL.startswith("postgresql")
    other = "sqlite_only" if on_postgres else "postgres_only"
    kept = [
        item
        for item in items
        if item.get_closest_marker(other) is None
        and (not on_postgres or _touches_a_database(item))
    ]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def _touches_a_database(item: pytest.Item) -> bool:
    return "database_url" in getattr(item, "fixturenames", ()) or (
        item.get_closest_marker("postgres_only") is not None
    )


def need_service(available: bool, what: str) -> None:
    """Skip when a system service is absent, unless CI demands every service."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (FRONTDESK_REQUIRE_SERVICES is set) but absent")
    pytest.skip(f"{what} is not available")


def need_executable(name: str, what: str | None = None) -> str:
    path = shutil.which(name) or (name if os.path.exists(name) else None)
    need_service(path is not None, what or name)
    assert path is not None
    return path


_TEMPLATE_DB = f"fdt_template_{os.getpid()}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per session; each test copies the result (a file, or a PostgreSQL template)."""
    if not POSTGRES_URL.startswith("postgresql"):
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
        return
    _pg_admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{_TEMPLATE_DB}"')
    upgrade(_pg_url(_TEMPLATE_DB))
    yield _TEMPLATE_DB
    _pg_admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}" WITH (FORCE)')


def _pg_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    url = make_url(POSTGRES_URL)
    dsn = f"postgresql://{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}/postgres"

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    if not POSTGRES_URL.startswith("postgresql"):
        path = tmp_path / "frontdesk.db"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"fdt_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    yield _pg_url(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url)


@pytest.fixture
def clock() -> Clock | None:
    """Override in a test module to inject a ManualClock."""
    return None


@pytest.fixture
async def services(settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(settings, clock)
    yield svc
    await svc.renderer.close()
    await svc.db.close()
