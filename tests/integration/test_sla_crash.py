"""Crash injection: 10,000 tickets breach over a simulated day while the server is SIGKILLed
at random points and restarted and the gateway refuses some requests. Every (ticket, level)
fires exactly once, and every SMS reaches the gateway (which deduplicates retries of the
same message by its idempotency key, as the outbox passes it)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from alerts.bulk import insert_tickets, spread, ticket_row
from alerts.records import Escalation
from alerts.wiring import build_sla
from config.app import build_services
from config.services import Services
from core.records import OutboxMessage

sys.path.insert(0, str(Path(__file__).parent))
from sla_crash_server import crash_settings

TICKETS = 10_000
DAY_REAL_SECONDS = 16.0
FACTOR = 86400 / DAY_REAL_SECONDS
SERVER = Path(__file__).parent / "sla_crash_server.py"
STARTUP_S = 60.0  # a server not ready by then is broken
STALL_S = 15.0  # the drain fails once nothing moved for this long

pytestmark = pytest.mark.slow


class FlakyGateway:
    def __init__(self, failure_rate: float) -> None:
        self.failure_rate = failure_rate
        self.accepted: Counter[str] = Counter()
        self.refused = 0
        self.random = random.Random(7)

    async def handle(self, request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        if self.random.random() < self.failure_rate:
            self.refused += 1
            return web.json_response({"error": "busy"}, status=503)
        self.accepted[request.headers["Idempotency-Key"]] += 1
        assert data["reference"] == request.headers["Idempotency-Key"]
        return web.json_response({"status": "queued"})


async def _start(url: str, gateway: str, real_t0: float, sim_t0: datetime) -> asyncio.subprocess.Process:
    """A server that has started its scanner and outbox: a kill before that (while Python is still
    importing, seconds on a slow machine) would interrupt no work and test nothing."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), url, gateway, repr(real_t0), repr(sim_t0.timestamp()), repr(FACTOR),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_S)
    assert line.strip() == b"ready", line
    return proc


async def _progress(services: Services) -> tuple[int, int]:
    """(SMS not yet sent, escalations fired)."""
    async with services.db.session() as session:
        pending = (await session.execute(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.channel == "sms", OutboxMessage.status != "sent")
        )).scalar()
        fired = (await session.execute(select(func.count()).select_from(Escalation))).scalar()
    return pending or 0, fired or 0


async def test_every_level_fires_exactly_once_across_sigkills(database_url: str) -> None:
    gateway = FlakyGateway(failure_rate=0.1)
    app = web.Application()
    app.router.add_post("/sms", gateway.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()

    settings = crash_settings(database_url, str(server.make_url("/sms")))
    services = build_services(settings)  # type: ignore[arg-type]
    parts = build_sla(services)
    sim_t0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    async with services.db.transaction() as session:
        await parts.store.seed(session)
        policy = (await parts.store.book(session)).get("crash")
    assert policy is not None
    # Created from an hour before the day starts, so the breaches (60 min) spread over the day.
    created = spread(sim_t0 - timedelta(hours=1), timedelta(hours=23), TICKETS)
    await insert_tickets(services.db, (ticket_row(policy, t) for t in created))

    rng = random.Random(42)
    real_t0 = time.time()
    kills = 0
    proc = await _start(services.db.url, str(server.make_url("/sms")), real_t0, sim_t0)
    try:
        # Kill at random points of the work, through the simulated day and at least four times.
        while time.time() - real_t0 < DAY_REAL_SECONDS or kills < 4:
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            proc = await _start(services.db.url, str(server.make_url("/sms")), real_t0, sim_t0)
        # The day is over: the last server drains what is left. It is given as long as it keeps
        # making progress (a slow machine takes longer), and fails the test once it stalls.
        last, stalled_since = await _progress(services), time.time()
        while last != (0, 2 * TICKETS):
            await asyncio.sleep(0.5)
            now = await _progress(services)
            if now != last:
                last, stalled_since = now, time.time()
            assert time.time() - stalled_since < STALL_S, f"no progress for {STALL_S} s: {last}"
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await server.close()

    async with services.db.session() as session:
        levels = (await session.execute(
            select(Escalation.ticket_id, Escalation.level, func.count()).group_by(Escalation.ticket_id, Escalation.level)
        )).all()
        sms = list((await session.execute(select(OutboxMessage).where(OutboxMessage.channel == "sms"))).scalars())
        emails = (await session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "email")
        )).scalar()
    await services.db.close()

    assert kills >= 4
    assert gateway.refused > 0
    # Every (ticket, level) once: both rungs of every ticket, no more.
    assert len(levels) == 2 * TICKETS and all(n == 1 for _, _, n in levels)
    assert {(t, lv) for t, lv, _ in levels} == {(t, lv) for t in range(1, TICKETS + 1) for lv in (0, 1)}
    # Every SMS was handed to the gateway; no message is missing from what it accepted.
    assert Counter(m.status for m in sms) == {"sent": TICKETS}, [
        (m.id, m.status, m.attempts) for m in sms if m.status != "sent"][:10]
    assert set(gateway.accepted) == {m.dedup_key for m in sms}
    # A row delivered just before a SIGKILL is retried after restart (at-least-once on the wire);
    # the idempotency key lets the gateway drop those few repeats.
    repeats = sum(n - 1 for n in gateway.accepted.values())
    assert repeats <= kills * parts.sms_worker.batch
    assert emails == TICKETS
    print(f"\nkills={kills} refused={gateway.refused} wire repeats={repeats}")
