"""What the CLI says, instead of a traceback, when a command cannot start for a reason the
operator can fix: a port in use, a database not reachable or not migrated.

A newcomer whose port 8080 was taken (another demo still running, another web server), or
who ran ``frontdesk user add`` before ``frontdesk migrate``, got a page of tracebacks ending in
``OSError: [Errno 98]`` or ``no such table: users``; each gets one line naming what to do.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError

from core.db import database_unreachable
from core.errors import Unavailable


class CannotListen(Exception):
    """The server's port could not be had; the message says which and what to do."""


@contextlib.contextmanager
def listening(host: str, port: int, command: str) -> Iterator[None]:
    """Around opening the server's socket: a refusal we can explain becomes ``CannotListen``
    (an ordinary exception, so a task's clean-up still runs before ``main`` says it)."""
    try:
        yield
    except OSError as exc:
        refused = _bind_refused(exc, host, port, command)
        if refused is None:
            raise
        raise CannotListen(refused) from None


def _bind_refused(exc: OSError, host: str, port: int, command: str) -> str | None:
    """A one-paragraph answer when ``exc`` is the listening socket refused, else None (not ours to explain)."""
    if exc.errno == errno.EADDRINUSE:
        return (f"{host}:{port} is already in use (another Frontdesk still running, or another server): "
                f"stop it, or choose another port: {command} --port {port + 1}")
    if exc.errno == errno.EACCES:
        return f"{host}:{port} may not be opened by this user (ports below 1024 need privileges): {command} --port 8080"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: {command} --host 127.0.0.1"
    return None


def startup_problem(exc: BaseException) -> str | None:
    """One line when ``exc`` means the port or the database is not there or not ready, else None."""
    if isinstance(exc, CannotListen):
        return str(exc)
    if isinstance(exc, Unavailable):  # e.g. the server's own schema check: it says what to run
        return str(exc)
    if database_unreachable(exc):
        return (f"the database cannot be reached ({type(exc).__name__}: {exc}); "
                "check database_url and that its server is up")
    if isinstance(exc, DBAPIError) and _missing_table(exc):
        return "the database has no Frontdesk tables yet, or older ones: run 'frontdesk migrate'"
    return None


def _missing_table(exc: DBAPIError) -> bool:
    """SQLite's "no such table", PostgreSQL's undefined table (asyncpg's UndefinedTableError)."""
    original = exc.orig
    return "no such table" in str(original) or type(original).__name__ == "UndefinedTableError" or (
        getattr(original, "sqlstate", None) == "42P01")
