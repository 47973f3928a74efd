"""Shared fixtures: a migrated database (SQLite, or PostgreSQL from FRONTDESK_DATABASE_URL),
the services built from settings, and the rule for tests that need a system service."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.clock import Clock
from core.migrate import upgrade

REQUIRE_SERVICES = bool(os.environ.get("FRONTDESK_REQUIRE_SERVICES"))
# Read once, then removed: each test gets its own fresh database on that server.
POSTGRES_URL = os.environ.pop("FRONTDESK_DATABASE_URL", "")


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


def _fresh_database_url(tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """A fresh, empty database for one test; returns its URL and a cleanup callable."""
    if not POSTGRES_URL.startswith("postgresql"):
        return f"sqlite+aiosqlite:///{tmp_path / 'frontdesk.db'}", lambda: None
    url = make_url(POSTGRES_URL)
    name = f"fdt_{uuid.uuid4().hex[:12]}"
    admin_dsn = f"postgresql://{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}/postgres"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    fresh = url.set(database=name).render_as_string(hide_password=False)
    return fresh, lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database."""
    url, cleanup = _fresh_database_url(tmp_path)
    upgrade(url)
    yield url
    cleanup()


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
    await svc.db.close()
