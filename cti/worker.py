"""A bounded in-order queue with one consumer task, so bus handlers return at once.

The bus awaits each handler in turn; the screen-pop and the call recorder do database
work, so they enqueue here and return. Overflow is counted and logged, never silent.

A worker given ``retry_unreachable_s`` keeps an item (or batch) whose handling failed because
the database could not be reached — PostgreSQL restarting, a network cut — and handles it
again once it is back, for up to that long into the outage: a call that rang while the
database restarted is still recorded. Other failures are logged and the item dropped, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.db import database_unreachable

log = logging.getLogger(__name__)


class EventWorker:
    """Handles items one by one, or in batches (``handle_batch``: one transaction for many)."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], Awaitable[None]],
        maxsize: int = 50_000,
        handle_batch: Callable[[list[Any]], Awaitable[None]] | None = None,
        batch_size: int = 200,
        retry_unreachable_s: float = 0.0,
    ) -> None:
        self.name = name
        self.handle = handle
        self.handle_batch = handle_batch
        self.batch_size = batch_size
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.overflow = 0
        self.failed = 0
        self.done = 0
        self.retry_unreachable_s = retry_unreachable_s
        self.retried = 0  # attempts made again after the database could not be reached
        self._outage_since: float | None = None  # when the database was first found unreachable
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def until_idle(self) -> None:
        """Return once nothing is queued or being handled (for work that must yield to this one)."""
        await self._idle.wait()

    async def submit(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
            self._idle.clear()
        except asyncio.QueueFull:
            self.overflow += 1
            log.error("%s: queue full, %s dropped (%d so far)", self.name, type(item).__name__, self.overflow)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            if self.queue.empty():
                self._idle.set()
            batch = [await self.queue.get()]
            if self.handle_batch is not None:
                while len(batch) < self.batch_size and not self.queue.empty():
                    batch.append(self.queue.get_nowait())
            try:
                if self.handle_batch is not None and len(batch) > 1:
                    try:
                        await self._attempt(self.handle_batch, batch)
                        continue
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.warning("%s: a batch of %d failed; handling its items one by one", self.name, len(batch), exc_info=True)
                for item in batch:
                    await self._one(item)
            finally:
                self.done += len(batch)
                for _ in batch:
                    self.queue.task_done()

    async def _attempt(self, handle: Callable[[Any], Awaitable[None]], work: Any) -> None:
        """``handle(work)``, again and again while the database is unreachable (with a capped
        backoff), until ``retry_unreachable_s`` after the outage began; then its error."""
        loop = asyncio.get_running_loop()
        delay = 0.1
        while True:
            try:
                await handle(work)
                self._outage_since = None
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.retry_unreachable_s or not database_unreachable(exc):
                    raise
                now = loop.time()
                if self._outage_since is None:
                    self._outage_since = now
                    log.warning("%s: the database cannot be reached (%s); holding the work until it is back",
                                self.name, exc)
                if now - self._outage_since > self.retry_unreachable_s:
                    raise
            self.retried += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _one(self, item: Any) -> None:
        try:
            await self._attempt(self.handle, item)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1
            log.exception("%s failed on %r", self.name, item)

    async def idle(self) -> None:
        """Wait until everything submitted so far is handled (tests, shutdown)."""
        await self.queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
