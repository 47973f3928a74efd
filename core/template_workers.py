"""Ops-authored templates rendered in worker processes, never on the event loop.

``core.template_sandbox`` bounds a render from inside (iterations, output, time checked
as it goes). What it cannot bound — one builtin call that runs long, memory that a
check missed — is bounded here from outside: each render runs in a long-lived worker
process with an address-space limit, and a worker that has not answered by the hard
deadline is killed and replaced (a thread could not be killed). A failed render comes
back as ``InvalidInput`` naming the template and the limit, so the API answers 4xx.

Workers are forked from a forkserver that has this module loaded, so starting one (at
start-up, or to replace a killed one) costs milliseconds. Contexts are plain dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.errors import InvalidInput
from core.health import HealthRegistry
from core.supervisor import SupervisedTask
from core.template_sandbox import Limits, TemplateFailure, render

log = logging.getLogger(__name__)

HEALTH_NAME = "template-workers"
MEMORY_LIMIT = 768 * 1024 * 1024  # bytes of address space per worker
# A new worker says it is ready before it is given work, so its start-up (slow on a loaded
# machine: the interpreter, imports) never counts against a render's deadline.
STARTUP_SECONDS = 60.0
READY = "ready"


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateJob:
    """One template to render. ``name`` says which template it is, in errors ops will read."""

    name: str
    source: str
    context: Mapping[str, Any]
    html: bool = False
    strict: bool = False


def _serve(conn: multiprocessing.connection.Connection, limits: Limits, memory: int) -> None:
    """A worker's life: render batches until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is for the server
    if memory and sys.platform.startswith("linux"):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        conn.send(READY)
    except (EOFError, OSError):
        return
    while True:
        try:
            jobs: list[TemplateJob] = conn.recv()
        except (EOFError, OSError):
            return
        results: list[tuple[str, Any, Any]] = []
        for job in jobs:
            try:
                results.append(("ok", render(job.source, job.context, limits, job.html, job.strict), None))
            except TemplateFailure as exc:
                results.append(("error", exc.message, {"limit": exc.limit, "line": exc.line}))
        try:
            conn.send(results)
        except (EOFError, OSError):
            return


class _Worker:
    def __init__(self, context: Any, limits: Limits, memory: int) -> None:
        """Start a worker and wait (blocking: call it in a thread) until it says it is ready."""
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, limits, memory), daemon=True,
                                       name="frontdesk-template-worker")
        self.process.start()
        child.close()
        try:
            ready = self.conn.poll(STARTUP_SECONDS) and self.conn.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(f"a template worker did not start within {STARTUP_SECONDS:g} s")

    def exchange(self, jobs: list[TemplateJob]) -> list[tuple[str, Any, Any]]:
        """Send a batch and wait for its results (in a thread: this blocks)."""
        self.conn.send(jobs)
        results: list[tuple[str, Any, Any]] = self.conn.recv()
        return results

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(1.0)
        with contextlib.suppress(Exception):
            self.conn.close()


def _multiprocessing_context() -> Any:
    if sys.platform.startswith("linux"):
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload([__name__])
        return forkserver
    return multiprocessing.get_context("spawn")


class TemplateRenderer:
    """A small pool of render worker processes; ``render`` is the one way to render ops' templates."""

    def __init__(
        self, workers: int = 2, limits: Limits | None = None, hard_seconds: float | None = None,
        memory: int = MEMORY_LIMIT,
    ) -> None:
        self.size = workers
        self.limits = limits or Limits()
        # The hard deadline: the worker checks the time itself, so it is reached only by what
        # that check cannot see (one long builtin call).
        self.hard_seconds = hard_seconds if hard_seconds is not None else self.limits.seconds + 2.0
        self.memory = memory
        self.killed = 0
        self.renders = 0
        self._context = _multiprocessing_context()
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self._threads: ThreadPoolExecutor | None = None
        self._starting: asyncio.Lock | None = None
        # A renderer dropped without close() (a test, a CLI command) still ends its workers.
        weakref.finalize(self, _kill_all, self._workers)

    async def start(self) -> None:
        """Start the workers (renders also start them on first use)."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._idle is not None:
                return
            self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="template-render")
            idle: asyncio.Queue[_Worker] = asyncio.Queue()
            for _ in range(self.size):
                idle.put_nowait(await self._spawn())
            self._idle = idle

    async def close(self) -> None:
        _kill_all(self._workers)
        self._idle = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    async def _spawn(self) -> _Worker:
        worker = await asyncio.to_thread(_Worker, self._context, self.limits, self.memory)
        self._workers.append(worker)
        return worker

    async def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with contextlib.suppress(ValueError):
            self._workers.remove(worker)
        return await self._spawn()

    def pids(self) -> list[int]:
        """The worker processes' ids (to find them in ``top``)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def render(self, jobs: Sequence[TemplateJob]) -> list[str]:
        """Every job's output, in order; ``InvalidInput`` for the first that fails."""
        results = await self.try_render(jobs)
        for result in results:
            if isinstance(result, InvalidInput):
                raise result
        return [r for r in results if isinstance(r, str)]

    async def render_one(self, job: TemplateJob) -> str:
        return (await self.render([job]))[0]

    async def try_render(self, jobs: Sequence[TemplateJob]) -> list[str | InvalidInput]:
        """Every job's output or its failure, in order: one failed template does not fail the others
        (unless the batch as a whole runs out of time or memory)."""
        if not jobs:
            return []
        if self._idle is None:
            await self.start()
        assert self._idle is not None and self._threads is not None
        idle, threads = self._idle, self._threads
        worker = await idle.get()
        loop = asyncio.get_running_loop()
        try:
            if not worker.alive():  # died while idle (killed from outside): not this batch's doing
                self.killed += 1
                worker = await self._replace(worker)
            answer = loop.run_in_executor(threads, worker.exchange, list(jobs))
            raw = await asyncio.wait_for(answer, self.hard_seconds)
        except TimeoutError:
            self.killed += 1
            log.warning("a template render overran %.1f s: worker killed (%s)", self.hard_seconds,
                        ", ".join(j.name for j in jobs))
            worker = await self._replace(worker)
            reason = f"takes longer than {self.hard_seconds:g} s (the time limit)"
            return [_failure(job, reason, {"limit": "time"}) for job in jobs]
        except (EOFError, OSError):
            # The worker died under this batch: most likely it hit the memory limit.
            self.killed += 1
            log.warning("a template render worker died (%s)", ", ".join(j.name for j in jobs))
            worker = await self._replace(worker)
            reason = "needs too much memory (the memory limit)"
            return [_failure(job, reason, {"limit": "memory"}) for job in jobs]
        except BaseException:
            # Cancelled while the worker may still be busy: it cannot be reused safely.
            worker = await asyncio.shield(self._replace(worker))
            raise
        finally:
            if idle is self._idle:
                idle.put_nowait(worker)
        self.renders += len(jobs)
        return [
            text if status == "ok" else _failure(job, text, details)
            for job, (status, text, details) in zip(jobs, raw, strict=True)
        ]

    async def supervise(self, task: SupervisedTask) -> None:
        """Supervised body: replace idle workers that died, and report on /readyz."""
        await self.start()
        while True:
            assert self._idle is not None
            idle = self._idle
            for _ in range(idle.qsize()):
                worker = idle.get_nowait()
                try:
                    if not worker.alive():
                        self.killed += 1
                        worker = await self._replace(worker)
                finally:  # the slot stays in the pool even if no new worker could start
                    idle.put_nowait(worker)
            pids = ", ".join(str(pid) for pid in self.pids())
            task.healthy(f"workers {pids}; {self.renders} renders, {self.killed} replaced")
            await asyncio.sleep(5.0)

    def supervised(self, health: HealthRegistry) -> SupervisedTask:
        return SupervisedTask(HEALTH_NAME, self.supervise, health, required=False, degrade_after=3)


def _kill_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.kill()
    workers.clear()


def _failure(job: TemplateJob, reason: str, details: dict[str, Any]) -> InvalidInput:
    return InvalidInput(f"{job.name} {reason}", {"template": job.name, **{k: v for k, v in details.items() if v}})
