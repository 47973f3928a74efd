"""A bounded in-order queue with one consumer task, so bus handlers return at once.

The bus awaits each handler in turn; the screen-pop and the call recorder do database
work, so they enqueue here and return. Overflow is counted and logged, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class EventWorker:
    def __init__(self, name: str, handle: Callable[[Any], Awaitable[None]], maxsize: int = 50_000) -> None:
        self.name = name
        self.handle = handle
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.overflow = 0
        self.failed = 0
        self.done = 0
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflow += 1
            log.error("%s: queue full, %s dropped (%d so far)", self.name, type(item).__name__, self.overflow)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                await self.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed += 1
                log.exception("%s failed on %r", self.name, item)
            finally:
                self.done += 1
                self.queue.task_done()

    async def idle(self) -> None:
        """Wait until everything submitted so far is handled (tests, shutdown)."""
        await self.queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
