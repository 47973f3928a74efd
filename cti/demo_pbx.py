"""The simulated PBX for ``make demo`` and ``frontdesk ami-sim``.

``start_demo_simulator`` is what ``make demo`` runs: simulated customers keep calling the
demo agents through a queue. ``frontdesk ami-sim --port 5038`` (``main``) runs the same
standalone, optionally with recorded transcripts replayed (``--replay``), background load
(``--load``) and generated queue calls (``--calls-per-s``) on top.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
from collections.abc import Sequence

from cti.scenarios import QueueCall
from cti.simulator import AmiSimulator


@dataclasses.dataclass(slots=True)
class DemoHandle:
    simulator: AmiSimulator
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.simulator.close()


async def start_demo_simulator(
    host: str,
    port: int,
    username: str,
    secret: str,
    *,
    interval_s: float,
    callers: list[str],
    agent_interfaces: list[str],
    queue: str = "support",
) -> DemoHandle:
    """A PBX for ``make demo``: every ``interval_s`` a caller from ``callers`` rings the
    demo agents through ``queue``; one answers after a few seconds and talks a while.
    Console actions (click-to-dial, transfer, hang-up, pause) get plausible answers."""
    sim = AmiSimulator(username, secret, queues={queue: agent_interfaces, "sales": []}, endpoints=agent_interfaces, answer_delay_s=1.5)
    await sim.start(host, port)

    async def loop() -> None:
        for n in itertools.count():
            await asyncio.sleep(interval_s if n else min(interval_s, 5.0))  # the first call comes soon
            caller = callers[n % len(callers)] if callers else f"+1415555{n % 10000:04d}"
            free = [i for i in agent_interfaces if not any(ch["Channel"].startswith(i + "-") for ch in sim.pbx.channels.values())]
            if not free:
                continue
            call = QueueCall(caller, queue=queue, ring=free, answered_by=random.choice(free) if n % 4 != 3 else None,
                             ring_s=6.0, talk_s=20.0, abandon_s=12.0)
            sim.spawn(sim.play(call.steps()))

    return DemoHandle(sim, asyncio.create_task(loop()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk ami-sim", description="AMI simulator speaking the real wire protocol")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--username", default="cti")
    parser.add_argument("--secret", default="ctisecret")
    parser.add_argument("--replay", action="append", default=[], help="transcript (.ami/.ami.gz) to play; repeatable")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed factor, 0 = as fast as possible")
    parser.add_argument("--caller", action="append", default=[], help="caller number for generated calls")
    parser.add_argument("--agent", action="append", default=[], help="agent interface, e.g. PJSIP/1001")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between generated calls")
    parser.add_argument("--load", type=float, default=0.0, help="background events per second (recorded mix)")
    parser.add_argument("--calls-per-s", type=float, default=0.0, help="generated queue calls per second through --agent")
    parser.add_argument("--duration", type=float, default=3600.0)
    args = parser.parse_args(list(argv or []))
    logging.basicConfig(level=logging.INFO)

    async def run() -> None:
        agents = args.agent or [f"PJSIP/100{n}" for n in range(1, 6)]
        handle = await start_demo_simulator(args.host, args.port, args.username, args.secret, interval_s=args.interval,
                                            callers=args.caller or [f"+1415555{n:04d}" for n in range(100)], agent_interfaces=agents)
        print(f"AMI simulator listening on {args.host}:{handle.simulator.port}", flush=True)
        try:
            for path in args.replay:
                await handle.simulator.play_transcript(path, args.speed)
            jobs = []
            if args.load:
                jobs.append(handle.simulator.play_load(args.load, args.duration))
            if args.calls_per_s:
                jobs.append(handle.simulator.play_calls(args.calls_per_s, agents, args.duration, callers=args.caller))
            await asyncio.gather(*jobs) if jobs else await asyncio.sleep(args.duration)
        finally:
            await handle.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
