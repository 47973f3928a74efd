"""``frontdesk bench routing --json``: the rules engine, replay and the assigner at volume.

- ``decisions_per_s``: the real engine (``RuleEngine.decide``, as production calls it) with
  ``--rules`` generated rules (channels, tiers, domains, number prefixes, English and Chinese
  keywords) over generated contacts, 30 % calls. A call reads the caller's recent tickets:
  here, as the mail importer and replay do, once per batch of 500 contacts (one query for the
  batch, among the stored snapshots); ``unbatched_decisions_per_s``: each call reading its own
  (a lone live call: one query each); ``email_decisions_per_s``: mails only (no ticket reads);
  ``decisions_per_cpu_s``: the batched figure per second of this process's CPU time (what the
  engine costs, less skewed by other work on a loaded machine).
- ``replay_s``: a draft against the live set over ``--replay-contacts`` stored snapshots.
- ``double_offers`` / ``over_capacity``: two assigners working the same ``--waiting-tickets``
  for ``--agents`` ready agents at once (run it with ``--database`` on PostgreSQL for the
  row-lock case); both must be 0.
- ``offer_p50_ms`` / ``offer_p99_ms``: an agent declines an offer (capacity freed, committed)
  → the next offer's frame received on that agent's ``/ws`` WebSocket, through the real server
  (``config.app.build_app`` on loopback, its own assigner, agents connected with API tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from core.auth import Actor
from core.clock import SystemClock
from core.db import Database
from core.errors import Conflict
from core.migrate import upgrade
from core.records import Role, Ticket, TicketStatus, User
from routing import history
from routing.assignment import Assignment, Presence
from routing.contact import Contact
from routing.defaults import default_rules_data
from routing.desk import TicketDesk
from routing.engine import RuleEngine
from routing.policy import RulesPolicy
from routing.records import Offer, RoutedContact, WorkItem
from routing.replay import replay_draft
from routing.rules import parse_rules
from routing.settings import RoutingSettings

EN = ("refund order delivery parcel password account invoice payment charge subscription cancel upgrade "
      "damaged missing late tracking address return exchange warranty repair complaint price discount").split()
ZH = "退款 订单 快递 包裹 密码 账户 发票 付款 扣费 订阅 取消 升级 损坏 丢失 延迟 物流 地址 退货 换货 保修 维修 投诉 价格 折扣".split()
DOMAINS = [f"corp{n}.example" for n in range(400)] + ["gmail.com", "qq.com", "163.com", "outlook.com"]
# What rules key on: product names, plans, order words in both languages; a mail carries a few.
_TERMS = random.Random(7)
TERMS = sorted({f"{_TERMS.choice(EN)}-{n}" for n in range(300)} | {_TERMS.choice(ZH) + _TERMS.choice(ZH) for _ in range(400)})
FILLER = "hello please help my the a is not and with thanks today order account since week still".split()
BATCH = 500  # contacts per read-ahead of their tickets, as the mail importer batches
PREFIXES = ["+86", "+1", "+44", "+49", "+33", "+81", "+852", "+886"]


def generated_rules(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rules = default_rules_data(RoutingSettings.model_validate({}))
    for n in range(count - len(rules)):
        conditions: list[dict[str, Any]] = []
        kind = n % 4
        if kind == 0:
            conditions.append({"field": "keywords", "op": "contains_any", "value": rng.sample(TERMS, 4)})
        elif kind == 1:
            conditions.append({"field": "sender_domain", "op": "in", "value": rng.sample(DOMAINS, 3)})
        elif kind == 2:
            conditions.append({"field": "phone_prefix", "op": "starts_with", "value": [rng.choice(PREFIXES) + str(rng.randint(10, 99))]})
        else:
            conditions.append({"field": "subject_keywords", "op": "contains_any", "value": rng.sample(TERMS, 3)})
        if rng.random() < 0.5:
            conditions.append({"field": "tier", "op": "in", "value": [rng.choice(["vip", "standard", "new"])]})
        if rng.random() < 0.3:
            conditions.append({"field": "channel", "op": "in", "value": [rng.choice(["email", "voice"])]})
        rules.append({"name": f"rule {n}", "groups": [{"mode": "all", "conditions": conditions}],
                      "actions": {"queue": f"queue-{n % 12}", "min_priority": rng.choice(["normal", "high"])},
                      "stop": rng.random() < 0.05})
    return rules


def generated_contact(rng: random.Random) -> Contact:
    email = rng.random() < 0.7
    words = [rng.choice(FILLER) for _ in range(rng.randint(6, 30))] + [rng.choice(EN) for _ in range(rng.randint(1, 4))]
    words.insert(rng.randint(0, len(words)), rng.choice(TERMS))
    chinese = "".join(rng.choice(ZH) for _ in range(rng.randint(2, 8))) + "，谢谢。"
    subject = " ".join(words[:5]) if rng.random() < 0.5 else rng.choice(TERMS) + chinese[:8]
    body = " ".join(words) + " " + chinese
    address = (f"user{rng.randint(1, 9999)}@{rng.choice(DOMAINS)}" if email
               else f"{rng.choice(PREFIXES)}{rng.randint(10**8, 10**9)}")
    return Contact(channel="email" if email else "voice", customer_id=None, customer_tier=rng.choice(["vip", "standard", "new", None]),
                   subject=subject, body=body, address=address)


async def _decisions(db: Database, engine: RuleEngine, contacts: list[Contact], batch: int = 0) -> tuple[float, float]:
    """Contacts decided per second by ``engine.decide`` (production's call), history reads included:
    per second of wall-clock time, and per second of this process's CPU time (its threads, e.g.
    SQLite's, included; a PostgreSQL server's not), which other work on the machine skews less.

    ``batch``: read ahead the tickets of each batch's customers and callers in one query per
    batch, as the mail importer and replay do; 0: each contact reads its own (a lone live call).
    """
    clock = SystemClock()
    contacts = [dataclasses.replace(c, folded=None) for c in contacts]  # fresh: nothing folded by an earlier run
    async with db.session() as session:
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, len(contacts), batch or len(contacts)):
            chunk = contacts[start:start + batch] if batch else contacts
            now = clock.now()
            if batch:  # the tickets of those the rules may ask about (calls, here)
                readers = [c for c in chunk if engine.reads_tickets(c)]
                await history.prefetch(session, {c.customer_id for c in readers if c.customer_id is not None})
                await history.prefetch_addresses(session, {(c.channel, c.address) for c in readers
                                                           if c.customer_id is None and c.address}, now)
            for contact in chunk:
                await engine.decide(session, contact, now)
            if batch:
                history.forget(session)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        await session.rollback()
    return len(contacts) / elapsed, len(contacts) / max(cpu, 1e-9)


async def _store_snapshots(db: Database, rng: random.Random, count: int) -> None:
    now = SystemClock().now()
    async with db.transaction() as session:
        for start in range(0, count, 5000):
            rows = []
            for n in range(start, min(count, start + 5000)):
                c = generated_contact(rng)
                rows.append({"at": now - timedelta(seconds=n % (6 * 86400)), "channel": c.channel, "customer_id": None,
                             "address": c.address, "ticket_id": None, "created": True, "version": 0, "rule": None,
                             "queue": "email", "priority": 1, "assignee_id": None,
                             "contact": {"tier": c.customer_tier, "subject": c.subject, "body": c.body[:500], "attributes": {}}})
            await session.execute(insert(RoutedContact), rows)
    await _analyze(db)


async def _analyze(db: Database) -> None:
    """Planner statistics after a bulk load, as autovacuum keeps them on a live PostgreSQL (else it guesses one row)."""
    if not db.is_sqlite:
        async with db.session() as session:
            await session.execute(text("ANALYZE"))
            await session.commit()


async def _assignment(db: Database, agents: int, waiting: int, capacity: int, samples: int) -> dict[str, Any]:
    # Offers stay open for the whole run: a miss would free capacity that no sample freed.
    settings = RoutingSettings.model_validate({"agent_capacity": capacity, "offer_timeout_s": 3600})
    clock = SystemClock()
    now = clock.now()
    async with db.transaction() as session:
        users = [{"login": f"bench-agent-{n}", "password_hash": "x", "display_name": f"Agent {n}", "roles": ["agent"],
                  "skills": [], "active": True, "created_at": now} for n in range(agents)]
        await session.execute(insert(User), users)
        for start in range(0, waiting, 2000):
            tickets = [{"subject": f"waiting {n}", "status": TicketStatus.NEW.value, "priority": 1 + (n % 3 == 0), "category": "other",
                        "channel": "email", "queue": "email", "created_at": now, "updated_at": now, "sla_state": {}}
                       for n in range(start, min(waiting, start + 2000))]
            ids = (await session.execute(insert(Ticket).returning(Ticket.id), tickets)).scalars().all()
            await session.execute(insert(WorkItem), [{"ticket_id": t, "queue": "email", "priority": 2, "strategy": "least_busy",
                                                      "weight": 1, "state": "waiting", "created_at": now} for t in ids])
        agent_ids = list((await session.execute(select(User.id).where(User.login.like("bench-agent-%")))).scalars())
    await _analyze(db)
    presence = Presence()
    for agent in agent_ids:
        presence.set(agent, "ready")
    desk = TicketDesk(RulesPolicy(settings), _NullBus(), clock)
    workers = [Assignment(db, desk, clock, settings, presence) for _ in range(2)]
    started = time.perf_counter()
    made = 1
    while made:
        made = sum(await asyncio.gather(*(w.run_once() for w in workers)))
    elapsed = time.perf_counter() - started
    async with db.session() as session:
        double = (await session.execute(select(func.count()).select_from(
            select(Offer.work_id).where(Offer.outcome.is_(None)).group_by(Offer.work_id).having(func.count() > 1).subquery()))).scalar_one()
        used = await workers[0].load(session, agent_ids)
        offered = (await session.execute(select(func.count()).select_from(WorkItem).where(WorkItem.state == "offered"))).scalar_one()
    await _analyze(db)  # the offers just made are a bulk load too
    latencies = await _offer_latency(db.url, settings, agent_ids, samples)
    return {"agents": agents, "waiting_tickets": waiting, "offers": offered, "assign_s": round(elapsed, 3),
            "double_offers": int(double), "over_capacity": sum(1 for a in agent_ids if used.get(a, 0) > capacity),
            "offer_samples": len(latencies),
            "offer_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "offer_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1) if len(latencies) > 1 else None}


async def _offer_latency(url: str, settings: RoutingSettings, agent_ids: list[int], samples: int) -> list[float]:
    """Capacity freed → the next offer's frame received on the agent's WebSocket, through the real server.

    The server (``config.app.build_app``: its own assigner, live hub and ``/ws``) serves on
    loopback; sampled agents connect to ``/ws`` with API tokens like any console. An agent
    declines one of their open offers (committed: capacity freed), and the clock runs until a
    ``routing.offer`` frame for them arrives on their socket.
    """
    import aiohttp
    from aiohttp import web

    from config.app import build_app, build_services
    from config.settings import load_settings
    from core.users import issue_api_token
    from routing.keys import ASSIGNMENT

    full = load_settings(None, database_url=url, routing=settings.model_dump())
    services = build_services(full)
    sampled = agent_ids[: min(len(agent_ids), max(1, samples // 4), 50)]
    tokens: dict[int, str] = {}
    async with services.db.transaction() as session:
        for agent in sampled:
            user = await session.get(User, agent)
            assert user is not None
            tokens[agent] = await issue_api_token(session, user, "bench")
    app = build_app(full, services)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    assignment = app[ASSIGNMENT]
    for agent in agent_ids:
        assignment.presence.set(agent, "ready")
    waiting: dict[int, asyncio.Future[float]] = {}
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {tokens[a]}"})
                       for a in sampled]

            async def listen(agent: int, ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT and '"routing.offer"' in msg.data:
                        received = time.perf_counter()
                        waiter = waiting.get(agent)
                        if waiter is not None and not waiter.done() and json.loads(msg.data)["event"] == "routing.offer":
                            waiter.set_result(received)

            listeners = [asyncio.create_task(listen(a, ws)) for a, ws in zip(sampled, sockets, strict=True)]
            await asyncio.sleep(0.5)  # the first passes of the server's assigner
            for n in range(samples):
                agent = sampled[n % len(sampled)]
                async with services.db.session() as session:
                    offer_id = await session.scalar(select(Offer.id).where(Offer.agent_id == agent, Offer.outcome.is_(None))
                                                    .order_by(Offer.id).limit(1))
                    if offer_id is None:
                        continue
                    waiting[agent] = asyncio.get_running_loop().create_future()
                    try:
                        await assignment.decline(session, _agent(agent), offer_id)
                    except Conflict:  # closed meanwhile (e.g. missed): nothing was freed by this sample
                        waiting.pop(agent)
                        continue
                    await services.desk.commit_and_publish(session)
                    freed = time.perf_counter()
                try:
                    latencies.append((await asyncio.wait_for(waiting[agent], 5.0) - freed) * 1000)
                except TimeoutError:
                    pass
                waiting.pop(agent, None)
            for task in listeners:
                task.cancel()
            for ws in sockets:
                await ws.close()
    finally:
        await runner.cleanup()
    return latencies


def _agent(user_id: int) -> Actor:
    return Actor(user_id, f"bench-agent-{user_id}", frozenset({Role.AGENT}))


class _NullBus:
    def subscribe(self, event_type: Any, handler: Any, *, everywhere: bool = False) -> None:
        return None

    def on_resync(self, callback: Any) -> None:
        return None

    async def publish(self, event: Any) -> None:
        return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(12)
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            settings = RoutingSettings.model_validate({})
            live = RuleEngine(parse_rules(generated_rules(rng, args.rules)), 1, settings)
            draft = RuleEngine(parse_rules(generated_rules(random.Random(13), args.rules)), 2, settings)
            contacts = [generated_contact(rng) for _ in range(args.contacts)]
            await _store_snapshots(db, rng, args.replay_contacts)  # callers' numbers are looked up among them
            await _decisions(db, live, contacts[:200], BATCH)  # warm-up
            decisions, decisions_cpu = await _decisions(db, live, contacts, BATCH)
            mails, _cpu = await _decisions(db, live, [c for c in contacts if c.channel == "email"])
            unbatched, _cpu = await _decisions(db, live, contacts[:2000])
            started = time.perf_counter()
            replayed = await replay_draft(db, draft, live, 7, SystemClock().now())
            replay_s = time.perf_counter() - started
            assignment = await _assignment(db, args.agents, args.waiting_tickets, args.capacity, args.offer_samples)
        finally:
            await db.close()
    return {"load_1m_before": load_before, "load_1m_after": round(os.getloadavg()[0], 2),  # others' work on the machine skews every figure
            "rules": args.rules, "contacts": args.contacts, "decisions_per_s": round(decisions),
            "decisions_per_cpu_s": round(decisions_cpu),
            "email_decisions_per_s": round(mails), "unbatched_decisions_per_s": round(unbatched),
            "replay_contacts": replayed.contacts, "replay_s": round(replay_s, 2), "replay_moved": replayed.moved,
            "database": "postgresql" if url.startswith("postgresql") else "sqlite", **assignment}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="frontdesk bench routing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.add_argument("--rules", type=int, default=200)
    p.add_argument("--contacts", type=int, default=20_000)
    p.add_argument("--replay-contacts", type=int, default=100_000)
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--waiting-tickets", type=int, default=5_000)
    p.add_argument("--capacity", type=int, default=6)
    p.add_argument("--offer-samples", type=int, default=200, help="capacity freed → next offer, timed this many times")
    p.add_argument("--database", help="a database URL to run on (default: a fresh SQLite file); it is migrated and written to")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
