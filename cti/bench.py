"""``frontdesk bench ami --json``: the AMI pipeline's throughput and screen-pop latency.

Three processes over loopback: the simulator (writes AMI), the server pipeline (link →
tracker → bus → screen-pop → WebSocket hub), and the agents' WebSocket clients. Pop
latency runs from the simulator writing ``AgentCalled`` to the agent's client receiving
the pop (CLOCK_MONOTONIC is system-wide, so the processes' stamps compare). The hub
here is a minimal one delivering by ``user_ids``; when the console's hub is on main,
the bench should use it instead.
"""

from __future__ import annotations

import argparse
import gc
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from cti.parser import parse_frames
from cti.simulator import AmiSimulator, QueueCall, load_template


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _agent(n: int) -> str:
    return f"PJSIP/{2000 + n}"


# -- process 1: the PBX ----------------------------------------------------------------------
def _simulator_process(conn: Connection, agents: int) -> None:
    async def run() -> None:
        sim = AmiSimulator("bench", "bench", queues={"support": [_agent(n) for n in range(agents)]})
        conn.send(await sim.start())
        while True:
            command, args = await asyncio.to_thread(conn.recv)
            if command == "load":
                await sim.play_load(0, 3600, max_events=args["events"])
                conn.send("done")
            elif command == "pops":
                sent: dict[str, float] = {}
                load = asyncio.create_task(sim.play_load(args["load"], (args["pops"] + args["warmup"]) / args["rate"] + 2))

                async def one(n: int, sent: dict[str, float] = sent) -> None:
                    call = QueueCall(f"+1415555{n % 10000:04d}", ring=[_agent(n % agents)], answered_by=None, abandon_s=0.5,
                                     linkedid=f"1900000000.{n}")
                    steps = call.steps()
                    for step in steps:
                        if step.frame["Event"] == "AgentCalled":
                            sent[call.linkedid] = time.monotonic()
                        sim.emit(step.frame)
                    await sim.drain()

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
def _clients_process(conn: Connection, url: str, user_ids: list[int]) -> None:
    async def run() -> None:
        received: dict[str, float] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sockets = [await http.ws_connect(f"{url}?user={uid}") for uid in user_ids]

            async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    data = json.loads(msg.data)
                    if data.get("event") == "cti.pop":
                        received.setdefault(data["data"]["linkedid"], time.monotonic())

            tasks = [asyncio.create_task(listen(ws)) for ws in sockets]
            conn.send(len(sockets))
            await asyncio.to_thread(conn.recv)
            for task in tasks:
                task.cancel()
            for ws in sockets:
                await ws.close()
        conn.send(received)

    asyncio.run(run())


async def _until(condition: Callable[[], bool], step: float = 0.01) -> None:
    while True:
        if condition():
            return
        await asyncio.sleep(step)


# -- process 2 (this one): the server pipeline ------------------------------------------------
async def _pipeline(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from config.app import build_services
    from config.settings import load_settings
    from core.records import User
    from cti.events import ScreenPopShown
    from cti.service import CtiService
    from cti.settings import PbxSettings

    template = load_template()
    started = time.perf_counter()
    parsed = len(parse_frames(template.data).frames)
    parse_only = parsed / (time.perf_counter() - started)

    ctx = mp.get_context("spawn")
    sim_conn, sim_child = ctx.Pipe()
    sim_proc = ctx.Process(target=_simulator_process, args=(sim_child, args.agents), daemon=True)
    sim_proc.start()
    port = await asyncio.to_thread(sim_conn.recv)

    settings = load_settings(None, database_url=url)
    services = build_services(settings)
    async with services.db.transaction() as session:
        # Agents never log in here: a placeholder hash spares 500 argon2 rounds.
        users = [User(login=f"agent{n}", password_hash="!", display_name=f"Agent {n}", roles=["agent"], pbx_interface=_agent(n))
                 for n in range(args.agents)]
        session.add_all(users)
        await session.flush()
        user_ids = [u.id for u in users]
    pbx = PbxSettings.model_validate({"name": "bench", "port": port, "username": "bench", "secret": "bench"})
    cti = CtiService([pbx], services.db, services.bus, services.desk, services.health, services.clock, record_calls=False)

    sockets: dict[int, web.WebSocketResponse] = {}
    sending: set[asyncio.Task[None]] = set()

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets[int(request.query["user"])] = ws
        async for _ in ws:
            pass
        return ws

    async def deliver(event: ScreenPopShown) -> None:
        text = json.dumps(event.to_wire())
        for uid in event.user_ids:
            ws = sockets.get(uid)
            if ws is not None and not ws.closed:
                task = asyncio.create_task(ws.send_str(text))
                sending.add(task)
                task.add_done_callback(sending.discard)

    services.bus.subscribe(ScreenPopShown, deliver)
    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    web_port = runner.addresses[0][1]
    _progress(f"{args.agents} agents created; starting the pipeline")
    await cti.start()
    link = cti.lines["bench"].link
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
    _progress(f"end to end: {events_per_s:.0f} events/s; connecting {args.agents} WebSocket clients")
    await asyncio.to_thread(sim_conn.recv)

    # Pop latency under background load, to real WebSocket clients.
    cl_conn, cl_child = ctx.Pipe()
    cl_proc = ctx.Process(target=_clients_process, args=(cl_child, f"http://127.0.0.1:{web_port}/ws", user_ids), daemon=True)
    cl_proc.start()
    connected = await asyncio.to_thread(cl_conn.recv)
    await _until(lambda: len(sockets) >= connected)
    _progress(f"{connected} clients connected; measuring {args.pops} pops under {args.load} events/s")
    gc.collect()
    gc.freeze()  # what a long-running server does after start-up: no full scans of its long-lived objects
    sim_conn.send(("pops", {"pops": args.pops, "rate": args.pop_rate, "load": args.load, "warmup": 5}))
    sent: dict[str, float] = await asyncio.to_thread(sim_conn.recv)
    await asyncio.sleep(1.0)
    cl_conn.send("stop")
    received: dict[str, float] = await asyncio.to_thread(cl_conn.recv)
    latencies = sorted((received[k] - t) * 1000 for k, t in sent.items() if k in received)
    if args.verbose:
        ordered = [round((received[k] - t) * 1000, 1) for k, t in sent.items() if k in received]
        _progress(f"pop latencies in order (ms): {ordered}")

    sim_conn.send(("stop", {}))
    await cti.stop()
    await runner.cleanup()
    await services.db.close()
    sim_proc.join(5)
    cl_proc.join(5)
    return {
        "parse_only_events_per_s": round(parse_only),
        "events_per_s": round(events_per_s),
        "agents": connected,
        "load_events_per_s": args.load,
        "pops": len(sent),
        "pop_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "pop_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2) if latencies else None,
        "lost_pops": len(sent) - len(latencies),
        "overflow": link.queue.overflow,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench ami")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line (always the last line)")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--load", type=int, default=3000, help="background AMI events/s during the pop measurement")
    parser.add_argument("--pops", type=int, default=300)
    parser.add_argument("--pop-rate", type=float, default=20.0, help="pops per second")
    parser.add_argument("--verbose", action="store_true", help="print every pop latency, in order")
    parser.add_argument("--events", type=int, default=200_000, help="events for the end-to-end throughput run")
    args = parser.parse_args(list(argv or []))
    from core.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        result = asyncio.run(_pipeline(args, url))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    print(json.dumps(result))
    return 0
