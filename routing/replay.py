"""Replay: run a draft rule set over the snapshots of recent contacts, against the live rules.

Both sets run through the same engine production uses, over the same contacts rebuilt
from their snapshots, in a session that is rolled back: nothing is written. The result is
what an ops person needs before saving: counts per queue / priority / assignee before and
after, and examples of contacts that would move. Facts read from tickets (an open ticket's
age) are as they are now, not as they were when the contact came in.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.records import Customer, Priority
from routing import history
from routing.contact import Contact, Decision
from routing.engine import RuleEngine
from routing.records import RoutedContact

MAX_DAYS = 90
MAX_CONTACTS = 200_000
EXAMPLES = 20
BATCH = 5000
YIELD_EVERY = 100  # contacts decided between turns of the event loop: a long replay never stalls it


def contact_of(row: RoutedContact | Row[Any]) -> Contact:
    """The contact as routing saw it, from its snapshot (see ``routing.desk.snapshot``)."""
    data = row.contact or {}
    return Contact(
        channel=row.channel,
        customer_id=row.customer_id,
        customer_tier=data.get("tier"),
        subject=data.get("subject") or "",
        body=data.get("body") or "",
        address=row.address,
        queue_hint=data.get("queue_hint"),
        ticket_id=row.ticket_id if data.get("reply") else None,
        category=data.get("category"),
        attributes=dict(data.get("attributes") or {}),
    )


def _priority_name(value: int) -> str:
    try:
        return Priority(value).name.lower()
    except ValueError:
        return str(value)


@dataclasses.dataclass(slots=True)
class ReplayResult:
    live_version: int
    contacts: int = 0
    moved: int = 0
    before: dict[str, Counter[str]] = dataclasses.field(default_factory=lambda: {k: Counter() for k in ("queue", "priority", "assignee")})
    after: dict[str, Counter[str]] = dataclasses.field(default_factory=lambda: {k: Counter() for k in ("queue", "priority", "assignee")})
    examples: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        def table(name: str) -> list[dict[str, Any]]:
            keys = sorted(self.before[name].keys() | self.after[name].keys())
            return [{"value": k, "before": self.before[name][k], "after": self.after[name][k],
                     "change": self.after[name][k] - self.before[name][k]} for k in keys]

        return {"live_version": self.live_version, "contacts": self.contacts, "moved": self.moved, "errors": self.errors,
                "queues": table("queue"), "priorities": table("priority"), "assignees": table("assignee"),
                "examples": self.examples}


def _outcome(decision: Decision) -> dict[str, str]:
    return {"queue": decision.queue, "priority": _priority_name(decision.priority),
            "assignee": str(decision.assignee_id) if decision.assignee_id is not None else "unassigned"}


async def replay(session: AsyncSession, draft: RuleEngine, live: RuleEngine, since: datetime,
                 limit: int = MAX_CONTACTS) -> ReplayResult:
    """Decide every snapshot since ``since`` with both rule sets (the caller rolls the session back)."""
    result = ReplayResult(live.version)
    last_id = 0
    columns = (RoutedContact.id, RoutedContact.at, RoutedContact.channel, RoutedContact.customer_id, RoutedContact.address,
               RoutedContact.ticket_id, RoutedContact.contact)
    while result.contacts < limit:
        # Plain rows, not ORM objects: a snapshot is read once, in bulk, by its primary key order.
        stmt = (select(*columns).where(RoutedContact.at >= since, RoutedContact.id > last_id)
                .order_by(RoutedContact.id).limit(min(BATCH, limit - result.contacts)))
        rows = (await session.execute(stmt)).all()
        if not rows:
            break
        # Read ahead what the rules may ask of the batch's customers and unknown senders: no query per contact.
        customer_ids = {r.customer_id for r in rows if r.customer_id is not None}
        held = list((await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))).all()) if customer_ids else []
        await history.prefetch(session, customer_ids)
        await history.prefetch_addresses(session, {(r.channel, r.address) for r in rows if r.customer_id is None and r.address},
                                         max(r.at for r in rows))
        for row in rows:
            last_id = row.id
            result.contacts += 1
            if result.contacts % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            contact = contact_of(row)  # one contact for both sets: its text is folded once
            outcomes = []
            for engine in (live, draft):
                try:
                    outcomes.append(_outcome(await engine.decide(session, contact, row.at)))
                except Exception:  # counted, as production would send it to the default queue
                    result.errors += 1
                    outcomes.append(_outcome(engine.base(contact)))
            before, after = outcomes
            for key in ("queue", "priority", "assignee"):
                result.before[key][before[key]] += 1
                result.after[key][after[key]] += 1
            if before != after:
                result.moved += 1
                if len(result.examples) < EXAMPLES:
                    result.examples.append({"id": row.id, "at": row.at.isoformat(), "channel": row.channel,
                                            "subject": (row.contact or {}).get("subject", ""), "ticket_id": row.ticket_id,
                                            "before": before, "after": after})
        del held
        history.forget(session)
        session.expunge_all()  # keep the session small over a long replay
    return result


async def replay_draft(db: Database, draft: RuleEngine, live: RuleEngine, days: int, now: datetime) -> ReplayResult:
    days = min(max(days, 1), MAX_DAYS)
    async with db.session() as session:
        try:
            return await replay(session, draft, live, now - timedelta(days=days))
        finally:
            await session.rollback()
