"""Parsing fetched mail off the event loop: in a worker process, so it overlaps the database work.

Parsing costs about as much CPU as importing; in a thread it would only take turns
with the event loop (one GIL). A single worker process parses the next batch while
the current one is written. Small batches (live mail, one at a time) are parsed
inline: the round trip to the process would cost more than the parse.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from channels.mime import ParsedMail, UnparseableMail, parse_message

Parsed = ParsedMail | UnparseableMail
INLINE_AT_MOST = 8


def parse_batch(raws: Sequence[bytes], max_bytes: int | None) -> list[Parsed]:
    out: list[Parsed] = []
    for raw in raws:
        try:
            out.append(parse_message(raw, max_bytes))
        except UnparseableMail as exc:
            out.append(exc)
    return out


def _watch_parent(parent: int) -> None:
    """In the worker: exit when the server process ``parent`` is gone (even if it died while we started)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class MailParser:
    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None and self.processes > 0:
            # "spawn": a clean interpreter, never a fork of a process with running threads.
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
            self._pool.submit(parse_batch, [], None)  # warm up: the first import is slow

    async def parse(self, raws: Sequence[bytes], max_bytes: int | None) -> list[Parsed]:
        if len(raws) <= INLINE_AT_MOST:
            return parse_batch(raws, max_bytes)
        if self._pool is None:
            return await asyncio.to_thread(parse_batch, raws, max_bytes)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, parse_batch, list(raws), max_bytes)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
