"""``frontdesk bench sla``: the scanner's cost against the number of open and due tickets.

Fills a fresh database with N open tickets (default 1,000,000 on SQLite) of which a
small share is due, then measures through the real scanner and database:

- ``due_query_ms``: the scanner's read of due rows (median of 20), at N open tickets, and
  ``due_query_ms_at_tenth`` with a tenth of them open and the same number due — equal
  figures show the scan's cost follows the due rows, not the open ones;
- ``escalations_per_s``: ladder steps fired and committed when all the due ones fire at once;
- ``detection_lag_p99_ms``: deadline → escalation row committed, with the scanner running
  normally (sleeping until the next deadline) on the system clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from alerts.bulk import insert_tickets, ticket_row
from alerts.ladder import FiredBatch
from alerts.policies import Policy
from alerts.wiring import build_sla
from config.app import build_services
from config.settings import load_settings
from core.clock import SystemClock
from core.measure import percentile, rounded
from core.migrate import upgrade
from core.supervisor import SupervisedTask

BENCH_POLICY = {
    "name": "bench",
    "position": 0,
    "first_response_minutes": 60,
    "levels": [{"at": "+0", "channels": ["email"], "recipients": ["email:ops@example.com"]}],
}
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_rows(policy: Policy, created: list[datetime]) -> list[tuple[Any, ...]]:
    out = []
    for t in created:
        row = ticket_row(policy, t)
        out.append((
            row["subject"], row["status"], row["priority"], row["category"], row["channel"], row["queue"],
            t.strftime(_SQLITE_TIME), t.strftime(_SQLITE_TIME), row["due_at"].strftime(_SQLITE_TIME),
            row["sla_policy"], row["sla_target"], row["sla_level"], json.dumps(row["sla_state"]),
        ))
    return out


def _sqlite_insert(path: str, rows: list[tuple[Any, ...]]) -> None:
    """Raw executemany in big transactions: the fast way to a million rows."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        for i in range(0, len(rows), 100_000):
            with conn:
                conn.executemany(
                    "INSERT INTO tickets (subject, status, priority, category, channel, queue, created_at, "
                    "updated_at, due_at, sla_policy, sla_target, sla_level, sla_state) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows[i : i + 100_000],
                )
    finally:
        conn.close()


async def _fill(services: Any, policy: Policy, created: list[datetime]) -> None:
    url = make_url(services.db.url)
    if services.db.is_sqlite:
        rows = await asyncio.to_thread(_sqlite_rows, policy, created)
        await asyncio.to_thread(_sqlite_insert, str(url.database), rows)
    else:
        await insert_tickets(services.db, (ticket_row(policy, t) for t in created), chunk=5000)


async def _due_query_ms(services: Any, parts: Any, repeat: int = 20) -> float:
    timings = []
    for _ in range(repeat):
        async with services.db.session() as session:
            start = time.perf_counter()
            async with session.begin():
                (await session.execute(parts.scanner.due_query(datetime.now(UTC)))).scalars().all()
            timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


async def run(
    tickets: int, due: int, lag_tickets: int, database_url: str | None, lag_spread: float = 4.0
) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="frontdesk-bench-sla-")
    url = database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = load_settings(None, database_url=url, sla={"policies": [BENCH_POLICY], "scan_batch": 500})
    services = build_services(settings, SystemClock())
    parts = build_sla(services)
    try:
        async with services.db.transaction() as session:
            await parts.store.seed(session)
            policy = (await parts.store.book(session)).get("bench")
        assert policy is not None
        now = datetime.now(UTC)
        rng = random.Random(1)
        # Due ones: deadlines in the last hour. The rest: deadlines over the coming 30 days.
        due_created = [now - timedelta(minutes=60 + rng.uniform(0, 60)) for _ in range(due)]
        later = [now + timedelta(seconds=rng.uniform(3600, 30 * 86400)) for _ in range(tickets - due)]
        tenth = max(0, tickets // 10 - due)
        fill_start = time.perf_counter()
        await _fill(services, policy, due_created + later[:tenth])
        at_tenth = await _due_query_ms(services, parts)
        await _fill(services, policy, later[tenth:])
        fill_s = time.perf_counter() - fill_start
        at_full = await _due_query_ms(services, parts)

        start = time.perf_counter()
        while await parts.scanner.scan_once() > 0:
            pass
        burst_s = time.perf_counter() - start
        fired = parts.scanner.fired

        # Detection lag: the scanner runs as in production; deadlines arrive over a few seconds.
        lags: list[float] = []
        all_seen = asyncio.Event()

        def committed(batch: FiredBatch) -> None:
            at = datetime.now(UTC)
            lags.extend((at - e["due_at"]).total_seconds() * 1000 for e in batch.escalations)
            if len(lags) >= lag_tickets:
                all_seen.set()

        parts.scanner.on_committed.append(committed)
        task = SupervisedTask("sla-scanner", parts.scanner.run, services.health)
        task.start()
        soon = datetime.now(UTC) + timedelta(seconds=1)
        created = [soon - timedelta(minutes=60) + timedelta(seconds=rng.uniform(0, lag_spread)) for _ in range(lag_tickets)]
        await _fill(services, policy, created)
        parts.scanner.wake()  # what the SLA clock's ticket events do after a commit
        try:
            await asyncio.wait_for(all_seen.wait(), timeout=60)
        except TimeoutError:
            pass  # report what was seen
        await task.stop()
        return {
            "tickets": tickets,
            "due": due,
            "database": "sqlite" if services.db.is_sqlite else "postgresql",
            "fill_s": round(fill_s, 1),
            "due_query_ms": round(at_full, 3),
            "due_query_ms_at_tenth": round(at_tenth, 3),
            "tickets_at_tenth": tenth + due,
            "escalations": fired,
            "escalations_per_s": round(fired / burst_s, 1) if burst_s else None,
            "detection_lag_p50_ms": rounded(percentile(lags, 0.5)),
            "detection_lag_p99_ms": rounded(percentile(lags, 0.99)),
            "lag_samples": len(lags),
        }
    finally:
        await parts.gateway.close()
        await services.db.close()
        tmp.cleanup()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench sla", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tickets", type=int, default=1_000_000, help="open tickets (default 1,000,000)")
    parser.add_argument("--due", type=int, default=2_000, help="how many of them are due (default 2,000)")
    parser.add_argument("--lag-tickets", type=int, default=300, help="deadlines for the detection-lag run")
    parser.add_argument("--lag-spread", type=float, default=4.0, help="seconds over which those deadlines fall")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    due = min(args.due, args.tickets)
    result = asyncio.run(run(args.tickets, due, args.lag_tickets, args.database, args.lag_spread))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    print(json.dumps(result))
    return 0
