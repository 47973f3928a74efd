"""``frontdesk bench search --json``: the agent's search box over a big index.

Fills ``--entries`` timeline entries' worth of index (mails and notes in English, Spanish and
Chinese over a Zipf vocabulary, order numbers, customers with names, emails and phones; one
ticket per five entries) straight into the tables, as ingest would leave them, then times
``--queries`` searches through the same service the web layer calls (``SearchService``: the
match, the filters' join, loading the tickets, snippets). Queries are what agents type: a
word they remember from a mail, two words, Chinese without spaces, an order number, a
customer's name or phone, a word half typed, and a common word (the worst case).
Keys: ``entries``, ``queries``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``by_kind_p95_ms``, ``database``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from core.auth import Actor
from core.clock import utcnow
from core.db import Database
from core.migrate import upgrade
from core.records import Customer, CustomerEmail, CustomerPhone, Role, SearchDocument, Ticket
from core.search_index import customer_document
from core.search_terms import terms
from routing import TicketFilter
from routing.search import SearchService

AGENT = Actor(None, "bench", frozenset({Role.AGENT}))
ZH = ("退款 订单 快递 包裹 密码 账户 发票 付款 扣费 订阅 取消 升级 损坏 丢失 延迟 物流 地址 退货 换货 保修 维修 投诉 价格 "
      "折扣 电话 客服 收到 没有 已经 什么 时候 问题 请问 谢谢 麻烦 尽快 处理 联系 商品 颜色 尺寸 质量 发货 仓库").split()
SURNAMES = "Wang Li Zhang Liu Chen Yang Huang Garcia Martinez Lopez Smith Jones Brown Muller Rossi Silva".split()
GIVEN = "Wei Fang Na Min Jie Lei Ana Lucia Carlos Maria John Emma Oliver Sofia Mateo Hannah".split()


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Corpus:
    def __init__(self, seed: int, entries: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng, 20_000)
        # Zipf: the n-th word is used about 1/n as often as the first.
        self.cum_weights = list(itertools.accumulate(1 / (n + 1) for n in range(len(self.words))))
        self.entries = entries
        self.tickets = max(1, entries // 5)
        self.customers = max(1, self.tickets // 4)

    def sentence(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum_weights, k=n)

    def text(self, ticket: int) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.25:  # Chinese, without spaces
            return "".join(rng.choice(ZH) for _ in range(rng.randint(6, 20))) + f" 订单号 {700000 + ticket}"
        words = self.sentence(rng.randint(12, 40))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), f"ORD-{700000 + ticket}")
        return " ".join(words).capitalize() + "."

    def name(self, customer: int) -> str:
        return f"{SURNAMES[customer % len(SURNAMES)]} {GIVEN[(customer // 7) % len(GIVEN)]} {customer}"


async def fill(db: Database, corpus: Corpus, batch: int = 5000) -> None:
    now = utcnow()
    rng = corpus.rng
    async with db.transaction() as session:
        for start in range(0, corpus.customers, batch):
            ids = range(start + 1, min(corpus.customers, start + batch) + 1)
            await session.execute(insert(Customer), [{"id": c, "name": corpus.name(c), "tier": "standard",
                                                      "tags": [], "notes": ""} for c in ids])
            await session.execute(insert(CustomerEmail), [{"customer_id": c, "address": f"c{c}@example.com"} for c in ids])
            await session.execute(insert(CustomerPhone), [{"customer_id": c, "e164": f"+86138{c:08d}", "label": ""} for c in ids])
            await session.execute(insert(SearchDocument), [
                customer_document(c, corpus.name(c), [f"c{c}@example.com"], [f"+86138{c:08d}"], now)
                for c in ids])
    doc_id = corpus.customers
    for start in range(0, corpus.tickets, batch):
        ids = range(start + 1, min(corpus.tickets, start + batch) + 1)
        rows, docs = [], []
        for t in ids:
            at = now - timedelta(minutes=corpus.tickets - t)
            subject = " ".join(corpus.sentence(rng.randint(3, 7))).capitalize()
            rows.append({"id": t, "subject": subject, "status": rng.choice(("new", "open", "pending", "solved", "closed")),
                         "priority": 2, "category": "other", "channel": rng.choice(("email", "voice", "web")),
                         "queue": rng.choice(("support", "billing", "sales")),
                         "customer_id": rng.randint(1, corpus.customers), "created_at": at, "updated_at": at,
                         "sla_state": {}})
            docs.append({"kind": "ticket", "ref_id": t, "ticket_id": t, "customer_id": rows[-1]["customer_id"],
                         "title": subject, "text": subject, "terms": " ".join([*terms(subject), str(t + 1000)]), "at": at})
            for e in range(5):
                doc_id += 1
                text = corpus.text(t)
                docs.append({"kind": "entry", "ref_id": doc_id, "ticket_id": t, "customer_id": None, "title": "",
                             "text": text, "terms": " ".join(terms(text)), "at": at + timedelta(seconds=e)})
        async with db.engine.begin() as conn:
            if db.is_sqlite:  # Core executemany: the ORM's bulk path is slower
                await conn.execute(insert(Ticket), rows)
                await conn.execute(insert(SearchDocument), docs)
            else:  # COPY: the generated tsvector column is filled by PostgreSQL as on any insert
                raw: Any = (await conn.get_raw_connection()).driver_connection
                for table, data in (("tickets", rows), ("search_documents", docs)):
                    columns = list(data[0])
                    records = [tuple(json.dumps(r[c]) if isinstance(r[c], dict) else r[c] for c in columns)
                               for r in data]
                    await raw.copy_records_to_table(table, records=records, columns=columns)


def queries(corpus: Corpus, count: int) -> list[tuple[str, str]]:
    """(kind, text) pairs in the mix an agent's day gives."""
    rng = random.Random(99)
    mid = corpus.words[200:5000]  # words people remember: not the commonest, not unseen
    out: list[tuple[str, str]] = []
    for n in range(count):
        pick = n % 10
        if pick in (0, 1, 2):
            out.append(("word", rng.choice(mid)))
        elif pick == 3:
            out.append(("two words", f"{rng.choice(mid)} {rng.choice(corpus.words[:2000])}"))
        elif pick == 4:
            out.append(("chinese", rng.choice(ZH) + rng.choice(ZH)[0]))
        elif pick == 5:
            out.append(("order number", f"ORD-{700000 + rng.randint(1, corpus.tickets)}"))
        elif pick == 6:
            out.append(("customer", corpus.name(rng.randint(1, corpus.customers))))
        elif pick == 7:
            out.append(("phone", f"138 {rng.randint(1, corpus.customers):08d}"))
        elif pick == 8:
            out.append(("half typed", rng.choice(mid)[:4]))
        else:
            out.append(("common word", rng.choice(corpus.words[:20])))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'search.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            corpus = Corpus(args.seed, args.entries)
            async with db.session() as session:
                present = (await session.execute(select(func.count()).select_from(SearchDocument))).scalar() or 0
            started = time.perf_counter()
            if present == 0:
                await fill(db, corpus)
            fill_s = time.perf_counter() - started
            if not db.is_sqlite:
                async with db.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")
            service = SearchService()
            timings: dict[str, list[float]] = {}
            found = 0
            for kind, text in queries(corpus, args.queries):
                async with db.session() as session:
                    t0 = time.perf_counter()
                    if kind in ("customer", "phone"):
                        page = await service.customers(session, AGENT, text)
                    else:
                        page = await service.tickets(session, AGENT, text, TicketFilter(status="all"))
                    timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
                found += bool(page.hits)
            every = sorted(t for ts in timings.values() for t in ts)

            def pct(values: list[float], q: float) -> float:
                ordered = sorted(values)
                return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

            return {
                "entries": corpus.tickets * 5, "tickets": corpus.tickets, "customers": corpus.customers,
                "queries": len(every), "answered": found,
                "p50_ms": round(statistics.median(every), 2), "p95_ms": pct(every, 0.95), "p99_ms": pct(every, 0.99),
                "by_kind_p95_ms": {k: pct(v, 0.95) for k, v in sorted(timings.items())},
                "fill_s": round(fill_s, 1), "database": db.engine.dialect.name,
            }
        finally:
            await db.close()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="frontdesk bench search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.add_argument("--entries", type=int, default=1_000_000, help="timeline entries in the index")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database", help="a database URL (default: a fresh SQLite file); migrated and filled if empty")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
