"""``frontdesk rules test``: what routing would decide for a sample contact or recent ones.

Nothing is written: each decision is made in a session that is rolled back.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from typing import Any

from sqlalchemy import select

from core.db import Database
from core.records import Customer, Ticket
from routing.contact import Contact
from routing.policy import RoutingPolicy, RulesPolicy
from routing.settings import RoutingSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontdesk rules test", description=__doc__)
    p.add_argument("--channel", default="email", choices=["voice", "email", "sms", "web"])
    p.add_argument("--tier", choices=["vip", "standard", "new"])
    p.add_argument("--customer-id", type=int)
    p.add_argument("--subject", default="")
    p.add_argument("--queue-hint")
    p.add_argument("--recent", type=int, metavar="N", help="replay the N most recent tickets' contacts")
    return p


async def decide(db: Database, policy: RoutingPolicy, contacts: list[Contact]) -> list[dict[str, Any]]:
    results = []
    async with db.session() as session:
        for contact in contacts:
            decision = await policy.route(session, contact)
            results.append({"contact": dataclasses.asdict(contact), "decision": dataclasses.asdict(decision)})
        await session.rollback()
    return results


async def recent_contacts(db: Database, count: int) -> list[Contact]:
    async with db.session() as session:
        stmt = select(Ticket, Customer).outerjoin(Customer).order_by(Ticket.created_at.desc()).limit(count)
        rows = (await session.execute(stmt)).unique().all()
    return [
        Contact(
            channel=t.channel,
            customer_id=t.customer_id,
            customer_tier=c.tier if c else None,
            subject=t.subject,
        )
        for t, c in rows
    ]


async def _run(database_url: str, routing: RoutingSettings, args: argparse.Namespace) -> list[dict[str, Any]]:
    db = Database(database_url)
    try:
        if args.recent:
            contacts = await recent_contacts(db, args.recent)
        else:
            contacts = [
                Contact(
                    channel=args.channel,
                    customer_id=args.customer_id,
                    customer_tier=args.tier,
                    subject=args.subject,
                    queue_hint=args.queue_hint,
                )
            ]
        return await decide(db, RulesPolicy(routing), contacts)
    finally:
        await db.close()


def rules_test(settings: Any, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    results = asyncio.run(_run(settings.database_url, settings.routing, args))
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    return 0
