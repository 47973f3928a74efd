"""Many open tickets at once, with their SLA clocks already running (benchmarks, crash tests).

Rows are computed the way ``SlaClock`` would for a new ticket under a calendar-time
policy (first response only) and written with ``executemany`` in large transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from alerts.policies import Policy
from core.db import Database
from core.records import Ticket


def ticket_row(policy: Policy, created: datetime, queue: str = "email") -> dict[str, Any]:
    seconds = policy.target_seconds("first_response")
    assert seconds is not None and policy.levels, "the policy needs a first-response target and a ladder"
    deadline = policy.working.add(created, seconds)
    first = policy.fire_time(policy.levels[0], deadline, seconds)
    return {
        "subject": "bulk ticket",
        "status": "new",
        "priority": 1,
        "category": "other",
        "channel": "email",
        "queue": queue,
        "created_at": created,
        "updated_at": created,
        "due_at": first,
        "sla_policy": policy.name,
        "sla_target": "first_response",
        "sla_level": 0,
        "sla_state": {
            "policy": policy.name,
            "paused_at": None,
            "cycles": {"first_response": 0},
            "targets": {
                "first_response": {
                    "start": created.isoformat(),
                    "paused_s": 0.0,
                    "cycle": 0,
                    "level": 0,
                    "acked": False,
                    "deadline": deadline.isoformat(),
                }
            },
        },
    }


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def insert_tickets(db: Database, rows: Iterable[dict[str, Any]], chunk: int = 20_000) -> int:
    total = 0
    for part in _chunks(rows, chunk):
        async with db.transaction() as session:
            await session.execute(insert(Ticket), part)
        total += len(part)
    return total


def spread(start: datetime, span: timedelta, n: int) -> Iterator[datetime]:
    """``n`` instants evenly over ``span`` from ``start``."""
    step = span / max(n, 1)
    for i in range(n):
        yield start + step * i
