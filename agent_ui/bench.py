"""``frontdesk bench ws --json``: wallboard frames to many viewers under PBX and mail load.

Three processes over loopback: the AMI simulator (the recorded call mix at
``--load`` events/s), the real server (``config.app.build_app``: CTI link, call recorder,
wallboard feed, SLA and mail plugins; mail arrives through the one queue at ``--mail``
per second) and the viewers (``--clients`` wallboard WebSockets with the TV token, of which
``--stalled`` never read). Delivery delay runs from the change reaching the wallboard
(``changed_at`` in the frame, wall clock) to the frame being received; both processes
read the same system clock. Server CPU and memory are the server process's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from core.measure import percentile, rounded
from cti.bench import bench_agent, simulator_process

TOKEN = "bench-wallboard-token-0123456789"


# -- process 1, the PBX, is cti.bench.simulator_process (the same as bench ami's) ----------
# -- process 3: the viewers -----------------------------------------------------------------
def _viewers_process(conn: Connection, url: str, clients: int, stalled: int) -> None:
    async def run() -> None:
        delays: list[float] = []
        drawing: list[float] = []  # change -> frame serialized on the server
        frames = 0
        frame_bytes = 0
        measuring = False
        closed = 0
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            async def connect(_: int) -> aiohttp.ClientWebSocketResponse:
                return await http.ws_connect(url, max_msg_size=0)

            sockets: list[aiohttp.ClientWebSocketResponse] = []
            for start in range(0, clients, 50):
                sockets += await asyncio.gather(*(connect(n) for n in range(start, min(clients, start + 50))))
            healthy = sockets[stalled:]  # the first `stalled` are never read

            async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
                nonlocal frames, frame_bytes, closed
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    data = json.loads(msg.data)["data"]
                    if measuring:
                        frames += 1
                        frame_bytes += len(msg.data)
                        if data.get("changed_at"):
                            delays.append(time.time() - data["changed_at"])
                            drawing.append(data["now"] - data["changed_at"])
                closed += 1

            tasks = [asyncio.create_task(listen(ws)) for ws in healthy]
            conn.send(len(sockets))
            await asyncio.to_thread(conn.recv)  # go
            measuring = True
            await asyncio.to_thread(conn.recv)  # stop
            measuring = False
            for task in tasks:
                task.cancel()
            for ws in sockets:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(0.5):
                        await ws.close()
        conn.send({"frames": frames, "frame_bytes": frame_bytes, "delays": delays, "drawing": drawing,
                   "healthy_closed": closed})

    asyncio.run(run())


# -- process 2 (this one): the server ---------------------------------------------------------
async def _mail(services: Any, per_second: float, stop: asyncio.Event) -> int:
    """Mail arriving through the one queue, as the ingest hands it over."""
    from core.records import EntryKind
    from routing.contact import Contact

    sent = 0
    while not stop.is_set() and per_second > 0:
        async with services.db.session() as session:
            contact = Contact(channel="email", customer_id=None, subject=f"Order {sent} has not arrived",
                              body="Where is my parcel?", address=f"customer{sent}@example.com")
            await services.desk.accept(session, contact, EntryKind.EMAIL_IN, {"subject": contact.subject},
                                       dedup_key=f"bench-mail-{sent}")
            await services.desk.commit_and_publish(session)
        sent += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1 / per_second):
                await stop.wait()
    return sent


async def _loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late the server's event loop wakes up (a blocked loop delays every frame)."""
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - started - 0.05)


async def _server(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import psutil
    from aiohttp import web

    from agent_ui.wallboard.feed import WALLBOARD
    from config.app import build_app, build_services
    from config.settings import load_settings
    from core.users import add_user

    ctx = mp.get_context("spawn")
    sim_conn, sim_child = ctx.Pipe()
    sim_proc = ctx.Process(target=simulator_process, args=(sim_child, args.agents), daemon=True)
    sim_proc.start()
    ami_port = await asyncio.to_thread(sim_conn.recv)

    settings = load_settings(None, database_url=url, web={"wallboard_token": TOKEN},
                             pbx=[{"name": "bench", "host": "127.0.0.1", "port": ami_port, "username": "bench",
                                   "secret": "bench"}])
    services = build_services(settings)
    async with services.db.transaction() as session:
        for n in range(args.agents):
            await add_user(session, f"agent{n}", "bench-password", f"Agent {n}", ["agent"], pbx_interface=bench_agent(n))
    app = build_app(settings, services)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feed = app[WALLBOARD]

    url = f"http://127.0.0.1:{port}/wallboard/ws?token={TOKEN}"
    viewers = []
    for n in range(args.viewer_processes):  # the viewers' own CPU must not be what is measured
        share = args.clients // args.viewer_processes + (n < args.clients % args.viewer_processes)
        stalled = args.stalled // args.viewer_processes + (n < args.stalled % args.viewer_processes)
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_viewers_process, daemon=True, args=(child, url, share, stalled))
        process.start()
        viewers.append((parent, process))
    connected = 0
    for parent, _process in viewers:
        connected += await asyncio.to_thread(parent.recv)

    me = psutil.Process()
    me.cpu_percent(None)
    rss_start = me.memory_info().rss
    frames_before, dropped_before = feed.frames, feed.dropped
    feed.backlog_reads.clear()
    stop_mail = asyncio.Event()
    mail = asyncio.create_task(_mail(services, args.mail, stop_mail))
    lags: list[float] = []
    lag = asyncio.create_task(_loop_lag(lags, stop_mail))
    for parent, _process in viewers:
        parent.send("go")
    started = time.monotonic()
    sim_conn.send(("load", {"rate": args.load, "seconds": args.seconds}))
    events = await asyncio.to_thread(sim_conn.recv)
    elapsed = time.monotonic() - started
    cpu = me.cpu_percent(None)
    rss_end = me.memory_info().rss
    seen: dict[str, Any] = {"frames": 0, "frame_bytes": 0, "delays": [], "drawing": [], "healthy_closed": 0}
    for parent, _process in viewers:
        parent.send("stop")
    for parent, _process in viewers:
        part = await asyncio.to_thread(parent.recv)
        for key, value in part.items():
            seen[key] += value
    stop_mail.set()
    mails = await mail
    await lag

    sim_conn.send(("stop", {}))
    await runner.cleanup()
    sim_proc.join(5)
    for _parent, process in viewers:
        process.join(5)
    return {
        "clients": connected,
        "stalled_clients": args.stalled,
        "load_events_per_s": round(events / elapsed),
        "mail_per_s": round(mails / elapsed, 2),
        "frames_per_s": round(seen["frames"] / elapsed, 1),
        "frames_per_s_per_client": round(seen["frames"] / elapsed / max(connected - args.stalled, 1), 2),
        "server_frames_drawn": feed.frames - frames_before,
        "frame_bytes_avg": round(seen["frame_bytes"] / seen["frames"]) if seen["frames"] else None,
        "delivery_p50_ms": rounded(percentile(seen["delays"], 0.5), scale=1000),
        "delivery_p99_ms": rounded(percentile(seen["delays"], 0.99), scale=1000),
        "drawn_p99_ms": rounded(percentile(seen["drawing"], 0.99), scale=1000),
        "slow_clients_dropped": feed.dropped - dropped_before,
        "healthy_clients_closed": seen["healthy_closed"],
        "viewer_processes": args.viewer_processes,
        "backlog_read_p99_ms": rounded(percentile(list(feed.backlog_reads), 0.99), scale=1000),
        "server_cpu_percent": round(cpu, 1),
        "server_loop_lag_p99_ms": rounded(percentile(lags, 0.99), scale=1000),
        "server_loop_lag_max_ms": rounded(max(lags, default=0.0), scale=1000),
        "server_rss_mb_start": round(rss_start / 2**20, 1),
        "server_rss_mb_end": round(rss_end / 2**20, 1),
        "seconds": round(elapsed, 1),
    }


@contextlib.contextmanager
def _throwaway_postgres(server_url: str) -> Iterator[str]:
    """A fresh database on the given server for one run, dropped afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"frontdesk_bench_{uuid.uuid4().hex[:12]}"
    dsn = f"postgresql://{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}/postgres"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn, password=url.password)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench ws")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line (always the last line)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=10, help="clients that never read")
    parser.add_argument("--load", type=int, default=3000, help="AMI events per second")
    parser.add_argument("--mail", type=float, default=2.0, help="emails arriving per second")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--viewer-processes", type=int, default=2, help="processes the viewers are spread over")
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="run on a throw-away database on this PostgreSQL server "
                             "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres); SQLite otherwise")
    args = parser.parse_args(list(argv or []))
    from core.migrate import upgrade

    with contextlib.ExitStack() as stack:
        if args.postgres:
            url = stack.enter_context(_throwaway_postgres(args.postgres))
        else:
            url = f"sqlite+aiosqlite:///{Path(stack.enter_context(tempfile.TemporaryDirectory())) / 'bench.db'}"
        upgrade(url)
        result = asyncio.run(_server(args, url))
        result["database"] = "postgresql" if args.postgres else "sqlite"
    if not args.json:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    print(json.dumps(result))
    return 0
