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
import logging
import multiprocessing
import os
import pickle
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, func, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from core.db import Database, is_sqlite
from core.records import Customer, Priority, Ticket
from routing import history
from routing.contact import Contact, Decision
from routing.engine import RuleEngine
from routing.records import RoutedContact
from routing.rules import RuleSet
from routing.settings import RoutingSettings

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime

log = logging.getLogger(__name__)

MAX_DAYS = 90
MAX_CONTACTS = 200_000
EXAMPLES = 20
BATCH = 5000
YIELD_EVERY = 100  # contacts decided between turns of the event loop: a long replay never stalls it


SNAPSHOT_ATTRIBUTES = ("mailbox", "to", "dialled", "callback", "automatic", "join", "template", "template_category")


def snapshot(contact: Contact, decision: Decision, ticket: Ticket, created: bool, now: datetime) -> RoutedContact:
    """The compact copy of a routed contact that replay runs drafts over (a few hundred bytes).

    The desk writes one per contact it accepts; ``contact_of`` reads it back, so what is kept
    and what is read stay side by side."""
    kept = {k: contact.attributes[k] for k in SNAPSHOT_ATTRIBUTES if k in contact.attributes}
    data: dict[str, Any] = {
        "tier": contact.customer_tier, "subject": (contact.subject or "")[:300], "body": (contact.body or "")[:500],
        "queue_hint": contact.queue_hint, "category": contact.category, "reply": contact.ticket_id is not None,
        "attributes": kept,
    }
    return RoutedContact(
        at=now, channel=contact.channel, customer_id=contact.customer_id, address=(contact.address or None) and contact.address[:320],
        ticket=ticket, created=created, version=decision.rule_version, rule=(decision.matched_rule or None) and (decision.matched_rule or "")[:100],
        queue=decision.queue[:80], priority=decision.priority, assignee_id=decision.assignee_id, contact=data,
    )


def contact_of(row: RoutedContact | Row[*tuple[Any, ...]]) -> Contact:
    """The contact as routing saw it, from its snapshot (see ``snapshot``)."""
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


Outcome = tuple[str, int, int | None]  # queue, priority, assignee: what the editor compares


@dataclasses.dataclass(slots=True)
class ReplayResult:
    live_version: int
    contacts: int = 0
    moved: int = 0
    before: dict[str, Counter[str]] = dataclasses.field(default_factory=lambda: {k: Counter() for k in ("queue", "priority", "assignee")})
    after: dict[str, Counter[str]] = dataclasses.field(default_factory=lambda: {k: Counter() for k in ("queue", "priority", "assignee")})
    examples: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    errors: int = 0
    worker_cpu_s: float = 0.0  # CPU time of the worker processes that decided it (0: decided in this process)

    def as_dict(self) -> dict[str, Any]:
        def table(name: str) -> list[dict[str, Any]]:
            keys = sorted(self.before[name].keys() | self.after[name].keys())
            return [{"value": k, "before": self.before[name][k], "after": self.after[name][k],
                     "change": self.after[name][k] - self.before[name][k]} for k in keys]

        return {"live_version": self.live_version, "contacts": self.contacts, "moved": self.moved, "errors": self.errors,
                "queues": table("queue"), "priorities": table("priority"), "assignees": table("assignee"),
                "examples": self.examples}

    def count(self, before: Counter[Outcome], after: Counter[Outcome]) -> None:
        """Add outcomes counted whole (cheap per contact) to the per-field tables the editor shows."""
        for outcomes, into in ((before, self.before), (after, self.after)):
            for (queue, priority, assignee), n in outcomes.items():
                into["queue"][queue] += n
                into["priority"][_priority_name(priority)] += n
                into["assignee"][str(assignee) if assignee is not None else "unassigned"] += n

    def merge(self, other: ReplayResult) -> None:
        """Add a later run of contacts (a shard of higher ids): counts add, examples stay the first by id."""
        self.contacts += other.contacts
        self.moved += other.moved
        self.errors += other.errors
        for name in ("queue", "priority", "assignee"):
            self.before[name].update(other.before[name])
            self.after[name].update(other.after[name])
        self.examples.extend(other.examples[: EXAMPLES - len(self.examples)])


def _outcome(decision: Decision) -> Outcome:
    return decision.queue, decision.priority, decision.assignee_id


def _named(outcome: Outcome) -> dict[str, str]:
    queue, priority, assignee = outcome
    return {"queue": queue, "priority": _priority_name(priority),
            "assignee": str(assignee) if assignee is not None else "unassigned"}


async def replay(session: AsyncSession, draft: RuleEngine, live: RuleEngine, since: datetime,
                 limit: int = MAX_CONTACTS, after_id: int = 0, until_id: int | None = None) -> ReplayResult:
    """Decide every snapshot since ``since`` with both rule sets (the caller rolls the session back).

    ``after_id`` / ``until_id``: only the snapshots with ids in that range (a shard of a parallel replay).
    """
    result = ReplayResult(live.version)
    live, draft = RuleEngine.pair(live, draft)  # each contact's keywords found in one pass for both
    last_id = after_id
    t = RoutedContact.__table__.c  # core columns: rows without the ORM's loading layer
    columns = (t.id, t.at, t.channel, t.customer_id, t.address, t.ticket_id, t.contact)
    before: Counter[Outcome] = Counter()
    after: Counter[Outcome] = Counter()
    while result.contacts < limit:
        # Plain rows, not ORM objects: a snapshot is read once, in bulk, by its primary key order.
        stmt = (select(*columns).where(t.at >= since, t.id > last_id)
                .order_by(t.id).limit(min(BATCH, limit - result.contacts)))
        if until_id is not None:
            stmt = stmt.where(t.id <= until_id)
        rows = (await session.execute(stmt)).all()
        if not rows:
            break
        contacts = [contact_of(r) for r in rows]  # one contact for both sets: its text is folded once
        # Read ahead what the rules may ask of the batch's customers and unknown senders: no query per contact.
        customer_ids = {c.customer_id for c in contacts if c.customer_id is not None}
        held = list((await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))).all()) if customer_ids else []
        readers = [c for c in contacts if live.reads_tickets(c) or draft.reads_tickets(c)]
        await history.prefetch(session, {c.customer_id for c in readers if c.customer_id is not None})
        await history.prefetch_addresses(session, {(c.channel, c.address) for c in readers if c.customer_id is None and c.address},
                                         max(r.at for r in rows))
        for row, contact in zip(rows, contacts, strict=True):
            last_id = row.id
            result.contacts += 1
            if result.contacts % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            at = as_utc(row.at)
            try:
                was = _outcome(await live.decide(session, contact, at, explain=False))
            except Exception:  # counted, as production would send it to the default queue
                result.errors += 1
                was = _outcome(live.base(contact))
            try:
                would = _outcome(await draft.decide(session, contact, at, explain=False))
            except Exception:
                result.errors += 1
                would = _outcome(draft.base(contact))
            before[was] += 1
            after[would] += 1
            if was != would:
                result.moved += 1
                if len(result.examples) < EXAMPLES:
                    result.examples.append({"id": row.id, "at": row.at.isoformat(), "channel": row.channel,
                                            "subject": (row.contact or {}).get("subject", ""), "ticket_id": row.ticket_id,
                                            "before": _named(was), "after": _named(would)})
        del held
        history.forget(session)
        session.expunge_all()  # keep the session small over a long replay
    result.count(before, after)
    return result


# Replays of many contacts are split by id into runs of whole batches, decided in worker processes
# (their own connections to the database): the CPU-heavy part stays off the server's event loop and
# uses every core. Fewer contacts are decided here, in slices between turns of the loop.
PARALLEL_FROM = 20_000
WORKERS = max(1, min(4, os.cpu_count() or 1))
_pool: ProcessPoolExecutor | None = None


def _drop_workers() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def _workers() -> ProcessPoolExecutor:
    """One pool for the process's life, started on the first big replay (spawned: no fork of a running server)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    return _pool


EngineSpec = tuple[RuleSet, int, RoutingSettings, Mapping[str, "WorkingTime"]]


def _spec(engine: RuleEngine) -> EngineSpec:
    return engine.rule_set, engine.version, engine.settings, dict(engine.calendars)


def _replay_shard(url: str, draft: EngineSpec, live: EngineSpec, since: datetime, after_id: int, until_id: int,
                  limit: int) -> tuple[ReplayResult, float]:
    """In a worker process: replay the snapshots with ids in (after_id, until_id]; also its CPU seconds."""
    started = time.process_time()

    async def run() -> ReplayResult:
        db = Database(url)
        try:
            async with db.session() as session:
                try:
                    return await replay(session, RuleEngine(*draft), RuleEngine(*live), since, limit, after_id, until_id)
                finally:
                    await session.rollback()
        finally:
            await db.close()

    result = asyncio.run(run())
    return result, time.process_time() - started


async def _parallel(db: Database, draft: RuleEngine, live: RuleEngine, since: datetime, ids: list[int]) -> ReplayResult:
    per = -(-len(ids) // (WORKERS * BATCH)) * BATCH  # whole batches each: the same batches a single run reads
    shards = [(ids[n] - 1 if n else 0, ids[min(n + per, len(ids)) - 1], min(per, len(ids) - n)) for n in range(0, len(ids), per)]
    loop = asyncio.get_running_loop()
    pool = _workers()
    runs = await asyncio.gather(*(loop.run_in_executor(pool, _replay_shard, db.url, _spec(draft), _spec(live), since, lo, hi, count)
                                  for lo, hi, count in shards))
    result = ReplayResult(live.version)
    for shard, cpu_s in runs:
        result.merge(shard)
        result.worker_cpu_s += cpu_s
    return result


def _shared(url: str) -> bool:
    """Whether other processes can open this database (not an SQLite database in memory)."""
    if not is_sqlite(url):
        return True
    path = make_url(url).database
    return bool(path) and path != ":memory:" and "mode=memory" not in url


async def replay_draft(db: Database, draft: RuleEngine, live: RuleEngine, days: int, now: datetime) -> ReplayResult:
    days = min(max(days, 1), MAX_DAYS)
    since = now - timedelta(days=days)
    t = RoutedContact.__table__.c
    recent = select(t.id).where(t.at >= since).order_by(t.id).limit(MAX_CONTACTS)
    if WORKERS > 1 and _shared(db.url):
        async with db.session() as session:
            count = (await session.execute(select(func.count()).select_from(recent.subquery()))).scalar_one()
            ids = list((await session.execute(recent)).scalars()) if count >= PARALLEL_FROM else []
        if ids:
            try:
                return await _parallel(db, draft, live, since, ids)
            except (BrokenProcessPool, pickle.PicklingError, OSError):  # no workers here (e.g. a sandbox): decided in this process
                log.exception("replay: worker processes failed; replaying in the server process")
                _drop_workers()
    async with db.session() as session:
        try:
            return await replay(session, draft, live, since)
        finally:
            await session.rollback()
