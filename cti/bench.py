"""``frontdesk bench ami --json``: the AMI pipeline's throughput and screen-pop latency.

Three processes over loopback: the simulator (writes AMI), the server pipeline (link →
tracker → bus → screen-pop → WebSocket hub), and the agents' WebSocket clients. Pop
latency runs from the simulator writing ``AgentCalled`` to the agent's client receiving
the pop (CLOCK_MONOTONIC is system-wide, so the processes' stamps compare). The hub
is the console's own (``agent_ui.live.hub``) in the app ``frontdesk serve`` builds, with the
CTI plugin, call recorder and SQLite database as configured there.

``events_per_s``: the recorded 10 calls/s mix (72 % VarSet) written as fast as the
simulator can, timed from the first frame parsed to the last one applied. Pops: calls
through queue ``support`` (each rings one of the ``--agents``, answered after 0.5 s)
while the recorded mix runs at ``--load`` events/s in the background (queue ``loadq``,
which the PBX settings do not list as ours, so those calls are tracked but not put on
tickets). Five warm-up pops are not counted; ``gc.freeze()`` after start-up, as a
long-running server would.

Each client is a console on the agents' home page (the open queue, unfiltered): it tells
the hub so (``agent_ui.live.console_watch``), as the page's script does, and so hears of
every ticket the pops create, at most once per list tick. The 2,000 consoles share one
process, so they read their sockets as raw WebSocket frames (``cti.bench_consoles``):
through a full client, each list tick's 2,000 frames kept that process busy tens of
milliseconds and a pop arriving then waited for it, a delay no agent's own browser has.
``recorder_backlog_max``: the most events the call recorder had queued, sampled every
50 ms while the pops ran; ``recorder_backlog_end``: how many were still queued when they
ended. ``--database`` runs on that database (migrated; the benchmark's agents are users ``bench-agent<n>``,
reused by later runs) instead of a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

from agent_ui.base.sessions import COOKIE_NAME
from core.measure import percentile, rounded
from cti.bench_consoles import open_consoles
from cti.parser import parse_frames
from cti.scenarios import QueueCall, Step, load_template
from cti.simulator import AmiSimulator


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_agent(n: int) -> str:
    """The phone of the benchmarks' agent ``n`` (a member of the simulator's queue)."""
    return f"PJSIP/{2000 + n}"


async def _later(delay: float, coro: Any) -> None:
    await asyncio.sleep(delay)
    await coro


# -- process 1: the PBX ----------------------------------------------------------------------
def simulator_process(conn: Connection, agents: int) -> None:
    """The PBX of ``bench ami`` and ``bench ws``, in its own process: it sends its AMI port,
    then obeys ``("load", {"events": n} or {"rate": r, "seconds": s})`` (answers the events
    sent), ``("pops", {...})`` (answers when each pop's AgentCalled was written) and ``("stop", {})``."""

    async def run() -> None:
        sim = AmiSimulator("bench", "bench", queues={"support": [bench_agent(n) for n in range(agents)]})
        conn.send(await sim.start())
        while True:
            command, args = await asyncio.to_thread(conn.recv)
            if command == "load":
                conn.send(await sim.play_load(args.get("rate", 0), args.get("seconds", 3600), max_events=args.get("events")))
            elif command == "pops":
                sent: dict[str, float] = {}
                load = asyncio.create_task(sim.play_load(args["load"], (args["pops"] + args["warmup"]) / args["rate"] + 2))

                async def one(n: int, sent: dict[str, float] = sent) -> None:
                    agent = bench_agent(n % agents)
                    call = QueueCall(f"+1415555{n % 10000:04d}", ring=[agent], answered_by=agent, ring_s=0.5, talk_s=1.0,
                                     linkedid=f"1900000000.{n}")
                    steps = call.steps()
                    ringing = [s for s in steps if s.at < call.ring_s]
                    for step in ringing:
                        if step.frame["Event"] == "AgentCalled":
                            sent[call.linkedid] = time.monotonic()
                        sim.emit(step.frame)
                    await sim.drain()
                    rest = [Step(s.at - call.ring_s, s.frame) for s in steps if s.at >= call.ring_s]
                    sim.spawn(_later(call.ring_s, sim.play(rest)))

                for n in range(-args["warmup"], args["pops"]):
                    await one(n)
                    await asyncio.sleep(1 / args["rate"])
                for n in range(-args["warmup"], 0):
                    sent.pop(f"1900000000.{n}", None)  # warm-up pops: compiled statements, first queries
                await load
                conn.send(sent)
            elif command == "stop":
                await sim.close()
                return

    asyncio.run(run())


# -- process 3: the agents' browsers ------------------------------------------------------
def _clients_process(conn: Connection, host: str, port: int, cookies: list[str]) -> None:
    async def run() -> None:
        received: dict[str, float] = {}

        def on_pop(text: bytes) -> None:
            at = time.monotonic()
            data = json.loads(text)
            if data.get("event") == "cti.pop":
                received.setdefault(data["data"]["linkedid"], at)

        # What the queue page's script says on connecting: it shows the open queue.
        watch = json.dumps({"watch": {"queue": "status=open"}}).encode()
        consoles = await open_consoles(host, port, [(COOKIE_NAME, cookie) for cookie in cookies], watch, on_pop)
        conn.send(len(consoles))
        await asyncio.to_thread(conn.recv)
        for console in consoles:
            console.close()
        conn.send(received)

    asyncio.run(run())


async def _until(condition: Callable[[], bool], step: float = 0.01) -> None:
    while True:
        if condition():
            return
        await asyncio.sleep(step)


# -- process 2 (this one): the server, as ``frontdesk serve`` builds it ----------------------
async def _pipeline(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from sqlalchemy import select

    from agent_ui.base.keys import SESSIONS
    from agent_ui.live.hub import LIVE_HUB
    from config.app import build_app, build_services
    from config.settings import load_settings
    from core.records import User
    from cti.plugin import CTI

    template = load_template()
    started = time.perf_counter()
    parsed = len(parse_frames(template.data).frames)
    parse_only = parsed / (time.perf_counter() - started)

    ctx = mp.get_context("spawn")
    sim_conn, sim_child = ctx.Pipe()
    sim_proc = ctx.Process(target=simulator_process, args=(sim_child, args.agents), daemon=True)
    sim_proc.start()
    port = await asyncio.to_thread(sim_conn.recv)

    settings = load_settings(None, database_url=url, log_level="WARNING",
                             pbx=[{"name": "bench", "port": port, "username": "bench", "secret": "bench",
                                   "queues": ["support"]}])
    services = build_services(settings)
    app = build_app(settings, services)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    web_port = runner.addresses[0][1]
    async with services.db.transaction() as session:
        # Agents never log in with a password here: a placeholder hash spares 500 argon2 rounds.
        logins = [f"bench-agent{n}" for n in range(args.agents)]
        existing = {u.login: u for u in (await session.execute(select(User).where(User.login.in_(logins)))).scalars()}
        users = [existing.get(login) or User(login=login, password_hash="!", display_name=f"Agent {n}", roles=["agent"],
                                             pbx_interface=bench_agent(n))
                 for n, login in enumerate(logins)]
        session.add_all([u for u in users if u.login not in existing])
        await session.flush()
        cookies = [await app[SESSIONS].open(session, user) for user in users]
    cti = app[CTI]
    await cti.directory.reload()
    link = cti.lines["bench"].link
    _progress(f"{args.agents} agents created; server on port {web_port}")
    await _until(lambda: link.up and bool(link.resyncs))

    # End to end: socket -> parsed -> tracker applied -> events published.
    ami = link.session
    assert ami is not None
    base_frames = ami.reader.frames
    sim_conn.send(("load", {"events": args.events}))
    await _until(lambda: ami.reader.frames != base_frames, 0.001)
    t0 = time.perf_counter()
    await _until(lambda: ami.reader.frames - base_frames >= args.events and not link.queue.items, 0.001)
    events_per_s = args.events / (time.perf_counter() - t0)
    await asyncio.to_thread(sim_conn.recv)
    _progress(f"end to end: {events_per_s:.0f} events/s; letting the call recorder catch up")
    await cti.idle()

    # Pop latency under background load, to real WebSocket clients of the console's hub.
    cl_conn, cl_child = ctx.Pipe()
    cl_proc = ctx.Process(target=_clients_process, args=(cl_child, "127.0.0.1", web_port, cookies), daemon=True)
    cl_proc.start()
    connected = await asyncio.to_thread(cl_conn.recv)
    await _until(lambda: app[LIVE_HUB].connections >= connected)
    _progress(f"{connected} clients connected; measuring {args.pops} pops under {args.load} events/s")
    gc.collect()
    gc.freeze()  # what a long-running server does after start-up: no full scans of its long-lived objects
    backlog_max = 0

    async def watch_recorder() -> None:
        nonlocal backlog_max
        while cti.recorder is not None:
            backlog_max = max(backlog_max, cti.recorder.worker.queue.qsize())
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_recorder())
    sim_conn.send(("pops", {"pops": args.pops, "rate": args.pop_rate, "load": args.load, "warmup": 5}))
    sent: dict[str, float] = await asyncio.to_thread(sim_conn.recv)
    watcher.cancel()
    recorder = cti.recorder.worker.queue.qsize() if cti.recorder else 0
    _progress(f"backlog after the pops: AMI queue {len(link.queue.items)}, screen-pop {cti.pop.worker.queue.qsize()}, recorder {recorder}")
    await asyncio.sleep(1.0)
    cl_conn.send("stop")
    received: dict[str, float] = await asyncio.to_thread(cl_conn.recv)
    latencies = sorted((received[k] - t) * 1000 for k, t in sent.items() if k in received)
    if args.verbose:
        ordered = [round((received[k] - t) * 1000, 1) for k, t in sent.items() if k in received]
        _progress(f"pop latencies in order (ms): {ordered}")

    await runner.cleanup()  # the server first: the PBX going away under it is not an outage to report
    sim_conn.send(("stop", {}))
    sim_proc.join(5)
    cl_proc.join(5)
    return {
        "parse_only_events_per_s": round(parse_only),
        "events_per_s": round(events_per_s),
        "agents": connected,
        "load_events_per_s": args.load,
        "pops": len(sent),
        "pop_p50_ms": rounded(percentile(latencies, 0.5), 2),
        "pop_p99_ms": rounded(percentile(latencies, 0.99), 2),
        "lost_pops": len(sent) - len(latencies),
        "overflow": link.queue.overflow,
        "recorder_backlog_max": max(backlog_max, recorder),
        "recorder_backlog_end": recorder,
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench ami")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line (always the last line)")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--load", type=int, default=3000, help="background AMI events/s during the pop measurement")
    parser.add_argument("--pops", type=int, default=1000, help="pops measured (the percentiles need about 1,000)")
    parser.add_argument("--pop-rate", type=float, default=10.0, help="calls popped per second (each rings one agent, answered, 1 s talk)")
    parser.add_argument("--verbose", action="store_true", help="print every pop latency, in order")
    parser.add_argument("--events", type=int, default=200_000, help="events for the end-to-end throughput run")
    parser.add_argument("--database", help="a database URL to run on (default: a fresh SQLite file); it is migrated and written to")
    args = parser.parse_args(list(argv or []))
    from core.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        result = asyncio.run(_pipeline(args, url))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    print(json.dumps(result))
    return 0
