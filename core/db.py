"""The database: one async engine, sessions, and the schema-version check.

SQLite (aiosqlite) is the embedded default, run in WAL mode with foreign keys on;
PostgreSQL (asyncpg) is the scale path. Both go through the same code.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session

log = logging.getLogger(__name__)

T = TypeVar("T")
READ_THREADS = 2

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# What a database that is down, restarting or cut off raises (connection class 08, the
# server shutting down or still starting, a refused socket): the request or job may simply
# be tried again once it is back; nothing of it was committed unless it was the commit itself.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    ConnectionRefusedError,
)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database cannot be reached just now.

    Callers answer "try again shortly" (503) or retry their work instead of reporting a
    bug: during a PostgreSQL restart every query fails this way for a few seconds."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _UNREACHABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        orig = getattr(current, "orig", None)
        pending.extend([current.__cause__, current.__context__, orig if isinstance(orig, BaseException) else None])
    return False


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-32768")  # 32 MB per connection: search and reports read wide
    cursor.close()


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, _record)
    dbapi_connection.execute("PRAGMA query_only=ON")


class WriteInRead(RuntimeError):
    """A function given to ``Database.read`` tried to write: reads share no transaction to commit."""


class _ReadSession(Session):
    """The session ``Database.read`` hands out: refuses writes on every database.

    SQLite's ``query_only`` would refuse them too, but a read on PostgreSQL runs in
    autocommit, where a careless write would be committed at once.
    """


@event.listens_for(_ReadSession, "do_orm_execute")
def _refuse_write_statement(state: ORMExecuteState) -> None:
    if not state.is_select:
        raise WriteInRead(f"Database.read runs reads only, not {type(state.statement).__name__}")


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise WriteInRead("Database.read runs reads only: nothing may be added, changed or deleted")


def _in_session(fn: Callable[[Session], T], connection: Connection) -> T:
    with _ReadSession(bind=connection) as session:
        return fn(session)


class SqliteReader:
    """Reads on a SQLite file in one hand-over to a thread: ``Database.read``'s fast path.

    Through aiosqlite every query is about six hand-overs between the event loop and the
    driver's thread (cursor, execute, fetch, close, rollback), and under a busy PBX each
    waits for the loop and the GIL: a screen-pop's lookup took tens of milliseconds. Here a
    whole read (several queries) runs in a thread of its own on a plain ``sqlite3``
    connection (WAL: readers never wait for the writer), refused any write by ``query_only``.
    """

    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite")
        self.engine: Engine = create_sync_engine(sync_url, connect_args={"timeout": 10, "check_same_thread": False},
                                                 pool_size=READ_THREADS, max_overflow=0)
        event.listen(self.engine, "connect", _sqlite_read_only)
        self.executor = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="db-read")

    def _run(self, fn: Callable[[Session], T]) -> T:
        with _ReadSession(self.engine) as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._run, fn)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.engine.dispose()


def create_engine(url: str, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 10}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def one_at_a_time(session: AsyncSession, name: str) -> None:
    """Until this transaction ends, no other holds ``name``: instances starting together on
    one PostgreSQL take turns (seeding defaults: the second finds what the first wrote instead
    of writing it again). A transaction-level advisory lock, freed by the commit or rollback;
    nothing to do on SQLite, where one instance serves."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"frontdesk-turn-{name}".encode()).digest()[:8], "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class Database:
    """Owns the engine and hands out sessions; opened and closed by the app's lifecycle."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        # A session class of this database's own, so flush listeners (the search index) see
        # only this database's sessions, not every engine's in the process.
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=self.session_class)
        database = make_url(url).database
        self._reader: SqliteReader | None = (SqliteReader(url) if is_sqlite(url) and database and database != ":memory:"
                                             else None)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[Session], T]) -> T:
        """``fn`` over a plain (sync) session, for reads on a hot path such as the screen-pop.

        On a SQLite file it runs in one hand-over (``SqliteReader``); elsewhere (PostgreSQL:
        asyncpg has no driver thread) through ``run_sync`` on an ordinary session. ``fn``
        only reads: a write raises ``WriteInRead`` (and SQLite's connection is ``query_only``).
        """
        if self._reader is not None:
            return await self._reader.run(fn)
        # Autocommit: no BEGIN and ROLLBACK round trips around a read (each statement sees
        # what is committed, as the pop's few reads need).
        async with self.engine.connect() as connection:
            reading = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await reading.run_sync(functools.partial(_in_session, fn))

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # readiness must answer, never raise
            log.warning("database ping failed", exc_info=True)
            return False

    async def schema_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            try:
                result = await conn.execute(text("SELECT version_num FROM alembic_version"))
            except Exception:
                return None
            row = result.first()
            return row[0] if row else None

    async def close(self) -> None:
        if self._reader is not None:
            await asyncio.to_thread(self._reader.close)
        await self.engine.dispose()
