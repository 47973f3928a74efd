"""``frontdesk retention [--dry-run] [--json]``: what the retention periods purge, counted first
or done now (the server's scheduled job does the same every hour)."""

from __future__ import annotations

import asyncio
import json

from core.clock import SystemClock
from core.db import Database
from privacy.policy import read_settings
from privacy.retention import dry_run, run_retention


async def _retention(database_url: str, count_only: bool) -> dict[str, object]:
    db = Database(database_url)
    try:
        now = SystemClock().now()
        async with db.session() as session:
            settings = await read_settings(session)
            counted = await dry_run(session, settings, now)
        result: dict[str, object] = {"dry_run": count_only, "ticket_days": settings.ticket_days,
                                     "call_days": settings.call_days, "due": counted.as_dict()}
        if not count_only:
            result["purged"] = (await run_retention(db, now, settings)).as_dict()
        return result
    finally:
        await db.close()


def retention_command(database_url: str, count_only: bool, as_json: bool) -> int:
    result = asyncio.run(_retention(database_url, count_only))
    if as_json:
        print(json.dumps(result))
        return 0
    due = result["due"]
    assert isinstance(due, dict)
    periods = f"tickets after {result['ticket_days'] or '-'} days, calls after {result['call_days'] or '-'} days"
    print(f"retention ({periods}): {due['tickets']} closed tickets' contents ({due['attachments']} attachments), "
          f"{due['calls']} call records due")
    if not count_only:
        purged = result["purged"]
        assert isinstance(purged, dict)
        print(f"purged: {purged['tickets']} tickets, {purged['calls']} call records")
    return 0
