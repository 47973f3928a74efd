"""Several real ``frontdesk serve`` processes on one PostgreSQL database (cluster tests, bench).

Each instance is its own process on its own port, configured by one YAML file (the same
for all: the database, the PBX, the mailboxes), started the way an operator starts one.
The harness waits for ``/readyz``, asks each which links it owns, and can kill one with
SIGKILL (no clean-up, as a crash or an OOM kill), or stop all with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from config.cpu_budget import CpuBudget
from cti.parser import Frame
from cti.simulator import AmiSimulator, _Client

# ``frontdesk`` as the console script runs it, but from ``-c``: run from the script file, every
# template worker (forkserver) would re-import that file as ``__mp_main__`` on start, which on
# a loaded machine overran the render deadline again and again (see the report of issue 17).
FRONTDESK = [sys.executable, "-c", "import sys; from config.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Instance:
    def __init__(self, index: int, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.index = index
        self.port = port
        self.process = process
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class Cluster:
    """N instances of one configuration; ``config`` is the YAML settings as a dict."""

    def __init__(self, config: dict[str, Any], workdir: Path, budget: CpuBudget | None = None) -> None:
        self.workdir = workdir
        self.budget = budget  # each instance held to a CPU quota of its own (bench cluster --instance-cpu)
        self.config_path = workdir / "frontdesk.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.instances: list[Instance] = []
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self._http

    def start(self, count: int = 1) -> list[Instance]:
        """Start ``count`` more instances (not waiting for them)."""
        started = []
        for _ in range(count):
            index = len(self.instances)
            port = free_port()
            log = self.workdir / f"instance-{index}.log"
            env = {**os.environ, "FRONTDESK_CONFIG": str(self.config_path), "PYTHONUNBUFFERED": "1"}
            env.pop("FRONTDESK_DATABASE_URL", None)
            argv = [*FRONTDESK, "-c", str(self.config_path), "serve", "--host", "127.0.0.1", "--port", str(port)]
            if self.budget is not None:
                argv = self.budget.command(index, argv)
            with log.open("wb") as out:
                process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            instance = Instance(index, port, process, log)
            self.instances.append(instance)
            started.append(instance)
        return started

    async def readyz(self, instance: Instance) -> dict[str, Any] | None:
        try:
            async with self.http.get(f"{instance.url}/readyz") as resp:
                body: dict[str, Any] = await resp.json()
                return body if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def wait_ready(self, instances: Sequence[Instance] | None = None, within: float = 120.0) -> None:
        pending = list(instances if instances is not None else self.alive())
        deadline = time.monotonic() + within
        while pending:
            for instance in list(pending):
                if not instance.alive:
                    raise AssertionError(f"instance {instance.index} exited:\n{self.tail(instance)}")
                if await self.readyz(instance) is not None:
                    pending.remove(instance)
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"instances {[i.index for i in pending]} not ready in {within}s:\n"
                                     + "\n".join(self.tail(i) for i in pending))
            await asyncio.sleep(0.1)

    def alive(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    async def owners(self, resource: str) -> list[Instance]:
        """The live instances whose /readyz says they own ``resource``."""
        found = []
        for instance in self.alive():
            body = await self.readyz(instance)
            if body is not None and resource in body.get("owns", []):
                found.append(instance)
        return found

    async def wait_owner(self, resource: str, within: float = 10.0, not_: Instance | None = None) -> Instance:
        deadline = time.monotonic() + within
        while True:
            owners = [o for o in await self.owners(resource) if o is not not_]
            if len(owners) == 1:
                return owners[0]
            assert len(owners) < 2, f"two owners of {resource}: {[o.index for o in owners]}"
            if time.monotonic() > deadline:
                raise AssertionError(f"no owner of {resource} within {within}s")
            await asyncio.sleep(0.05)

    @staticmethod
    async def until(check: Callable[[], Awaitable[bool]], within: float = 10.0, what: str = "condition") -> float:
        """Seconds until ``check()`` held, polled every 20 ms."""
        start = time.monotonic()
        while not await check():
            if time.monotonic() - start > within:
                raise AssertionError(f"{what} not reached within {within}s")
            await asyncio.sleep(0.02)
        return time.monotonic() - start

    def kill(self, instance: Instance) -> None:
        """SIGKILL: the process gets no chance to release anything."""
        instance.process.send_signal(signal.SIGKILL)
        instance.process.wait(5)

    def tail(self, instance: Instance, lines: int = 30) -> str:
        text = instance.log.read_text(encoding="utf-8", errors="replace") if instance.log.exists() else ""
        return f"--- instance {instance.index} ---\n" + "\n".join(text.splitlines()[-lines:])

    async def close(self) -> None:
        for instance in self.alive():
            instance.process.send_signal(signal.SIGTERM)
        for instance in self.instances:
            try:
                await asyncio.to_thread(instance.process.wait, 15)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait(5)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.close()


class CountingPbx(AmiSimulator):
    """The AMI simulator, counting each Originate by its channel id and the links logged in at
    once (``sampling``): what the cluster tests and ``bench cluster`` check fail-over by."""

    def __init__(self, username: str = "bench", secret: str = "bench-secret",
                 queues: dict[str, Sequence[str]] | None = None) -> None:
        super().__init__(username, secret, queues=queues or {"support": ["PJSIP/1001"]}, answer_delay_s=0.05)
        self.originated: Counter[str] = Counter()
        self.most_links = 0

    def _action_originate(self, client: _Client, request: Frame) -> None:
        """Dispatched before the PBX's own ``action_originate``, which it hands the call to."""
        self.originated[request.get("ChannelId", "")] += 1
        self.pbx.action_originate(client, request)

    def sample(self) -> None:
        self.most_links = max(self.most_links, len(self.clients))

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        """Count the links logged in at once every 5 ms while the block runs."""
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                self.sample()
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        try:
            yield
        finally:
            stop.set()
            await sampler

