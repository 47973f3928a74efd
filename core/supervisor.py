"""Supervised background loops: restart with exponential backoff, report health, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from core.db import database_unreachable
from core.health import HealthRegistry

log = logging.getLogger(__name__)

# A body that failed because the database cannot be reached tries again at least this often,
# however long its backoff has grown: when PostgreSQL is back (a restart takes seconds, an
# outage may take minutes), every loop resumes within seconds, not after a 30-300 s backoff.
# A refused connection costs nothing; the warning is logged once per outage, not per retry.
DATABASE_RETRY_MAX_S = 2.0


class Backoff:
    """Exponential backoff with jitter: ``initial``, doubling, capped at ``maximum``."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.1) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * (2**self.attempt))
        self.attempt += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self.attempt = 0


RECANCEL_AFTER = 10.0  # seconds a cancelled body may take to clean up before it is cancelled again


class SupervisedTask:
    """Runs ``body`` for the life of the server.

    ``body`` returns or raises when its work stops (link lost, error); it is then
    restarted after a backoff delay. The body may call ``healthy()`` once it is
    working, which resets the backoff.
    """

    def __init__(
        self,
        name: str,
        body: Callable[[SupervisedTask], Awaitable[None]],
        health: HealthRegistry,
        backoff: Backoff | None = None,
        required: bool = True,
        degrade_after: int = 0,
    ) -> None:
        self.name = name
        self.body = body
        self.health = health
        self.backoff = backoff or Backoff()
        self.required = required
        # After this many failures in a row (0: never), /readyz reports the server "degraded".
        self.degrade_after = degrade_after
        self.failures = 0
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._database_down = False  # the last failure was the database unreachable (logged once)

    def healthy(self, detail: str = "running") -> None:
        self.backoff.reset()
        self.failures = 0
        self._database_down = False
        self.health.set(self.name, True, detail, self.required)

    def unhealthy(self, detail: str, degraded: bool | None = None) -> None:
        """Not working; ``degraded`` (default: failed ``degrade_after`` times in a row) shows on /readyz."""
        if degraded is None:
            degraded = bool(self.degrade_after) and self.failures >= self.degrade_after
        self.health.set(self.name, False, detail, self.required, degraded)

    def start(self) -> None:
        self.health.set(self.name, False, "starting", self.required)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stopping:
            unreachable = False
            try:
                await self.body(self)
                detail = "stopped"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a supervised loop must outlive its failures
                detail = f"{type(exc).__name__}: {exc}"
                unreachable = database_unreachable(exc)
                level = logging.DEBUG if unreachable and self._database_down else logging.WARNING
                log.log(level, "%s failed: %s", self.name, detail, exc_info=log.isEnabledFor(logging.DEBUG))
            self._database_down = unreachable
            if self._stopping:
                break
            delay = self.backoff.next_delay()
            if unreachable:
                delay = min(delay, DATABASE_RETRY_MAX_S)
            self.restarts += 1
            self.failures += 1
            self.unhealthy(f"{detail}; retrying in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def stop(self, recancel_after: float = RECANCEL_AFTER) -> None:
        """Cancel the body until it has ended.

        One cancellation is not always enough: Python 3.11's ``asyncio.wait_for`` swallows
        it when the awaited call finishes at the same moment, and the body then carries on
        (an IMAP reader went back to IDLE and a stop hung). So a body still running after
        ``recancel_after`` seconds (time enough for its own bounded clean-up) is cancelled again.
        """
        self._stopping = True
        task = self._task
        if task is not None:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=recancel_after)
            if not task.cancelled() and task.exception() is not None:
                log.debug("%s ended with %r while stopping", self.name, task.exception())
            self._task = None
        self.health.remove(self.name)


@contextlib.asynccontextmanager
async def running(tasks: Sequence[SupervisedTask]) -> AsyncIterator[None]:
    """The tasks run for the body of the ``async with``, and are stopped however it ends:
    a feature's lifecycle (an aiohttp cleanup context) is this around its ``yield``."""
    for task in tasks:
        task.start()
    try:
        yield
    finally:
        for task in tasks:
            await task.stop()
