"""``frontdesk rules …``: test, replay, export, import, history, restore.

``test`` and ``replay`` run the engine production uses, on the live rules from the
database (or a draft file), and write nothing: each runs in a session that is rolled back.
``import`` and ``restore`` save a new version (author: the system), refused whole if any
rule is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.auth import Actor
from core.clock import SystemClock
from core.db import Database
from core.errors import FrontdeskError
from core.records import Customer
from routing.contact import Contact, suggested_template
from routing.engine import RuleEngine
from routing.policy import RulesPolicy
from routing.records import RoutedContact
from routing.replay import contact_of, replay_draft
from routing.settings import RoutingSettings
from routing.store import RuleStore, export_yaml, parse_yaml, version_dict


def _test_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontdesk rules test", description="what the rules decide for a sample contact or recent ones")
    p.add_argument("--channel", default="email", choices=["voice", "email", "sms", "web"])
    p.add_argument("--tier", choices=["vip", "standard", "new"])
    p.add_argument("--customer-id", type=int)
    p.add_argument("--subject", default="")
    p.add_argument("--body", default="")
    p.add_argument("--address", help="the sender's email address or phone number")
    p.add_argument("--queue-hint")
    p.add_argument("--recent", type=int, metavar="N", help="the N most recently routed contacts (from their snapshots)")
    p.add_argument("--rules", type=Path, metavar="FILE", help="a draft rule file (YAML) instead of the live rules")
    return p


async def decide(db: Database, policy: RulesPolicy, contacts: list[Contact]) -> list[dict[str, Any]]:
    results = []
    async with db.session() as session:
        for contact in contacts:
            decision = await policy.route(session, contact)
            results.append({"contact": dataclasses.asdict(contact), "decision": dataclasses.asdict(decision)})
        await session.rollback()
    return results


async def recent_contacts(db: Database, count: int) -> list[Contact]:
    async with db.session() as session:
        stmt = select(RoutedContact).order_by(RoutedContact.id.desc()).limit(count)
        return [contact_of(row) for row in (await session.execute(stmt)).scalars()]


async def _engines(db: Database, settings: RoutingSettings, draft: Path | None, timezone: str) -> tuple[RuleEngine, RuleEngine]:
    """The live engine (from the database) and the one to test: the draft's, or the live one."""
    async with db.session() as session:
        live = await RuleStore(settings, timezone=timezone).engine(session)
    if draft is None:
        return live, live
    text = await asyncio.to_thread(draft.read_text, encoding="utf-8")
    return live, RuleEngine(parse_yaml(text), live.version + 1, settings, live.calendars)


async def _test(db: Database, settings: RoutingSettings, argv: list[str], timezone: str) -> list[dict[str, Any]]:
    args = _test_parser().parse_args(argv)
    _live, engine = await _engines(db, settings, args.rules, timezone)
    if args.recent:
        contacts = await recent_contacts(db, args.recent)
    else:
        contact = Contact(channel=args.channel, customer_id=args.customer_id, customer_tier=args.tier,
                          subject=args.subject, body=args.body, address=args.address, queue_hint=args.queue_hint)
        if contact.channel == "email":  # as the mail ingest does: the top suggested template, for rules on it
            contact.attributes.update(await _suggestion(db, contact))
        contacts = [contact]
    return await decide(db, RulesPolicy(settings, engine=engine), contacts)


async def _suggestion(db: Database, contact: Contact) -> dict[str, str]:
    from knowledge.suggestions import (
        TemplateLibrary,  # here: knowledge imports the desk, which imports routing
    )

    async with db.session() as session:
        customer = await session.get(Customer, contact.customer_id) if contact.customer_id is not None else None
        found = await TemplateLibrary().suggest(session, contact.subject, contact.body,
                                                language=customer.language if customer else None, limit=1)
    return suggested_template(found[0].name, found[0].category) if found else {}


async def _replay(db: Database, settings: RoutingSettings, argv: list[str], timezone: str) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(prog="frontdesk rules replay", description="a draft over the last days' contacts, against the live rules")
    p.add_argument("rules", type=Path, help="the draft rule file (YAML)")
    p.add_argument("--days", type=int, default=7)
    args = p.parse_args(argv)
    live, draft = await _engines(db, settings, args.rules, timezone)
    result = await replay_draft(db, draft, live, args.days, SystemClock().now())
    return [result.as_dict()]


async def _export(db: Database, settings: RoutingSettings, argv: list[str]) -> str:
    p = argparse.ArgumentParser(prog="frontdesk rules export", description="the rules as YAML (the live version unless --version)")
    p.add_argument("--version", type=int)
    args = p.parse_args(argv)
    store = RuleStore(settings)
    async with db.session() as session:
        if args.version is None:
            live = await store.live(session)
            return export_yaml(live.version, live.rules)
        row = await store.version(session, Actor.system(), args.version)
        return export_yaml(row.version, row.rules)


async def _save(db: Database, settings: RoutingSettings, command: str, argv: list[str], timezone: str) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(prog=f"frontdesk rules {command}")
    if command == "import":
        p.add_argument("file", type=Path, help="a rule file (YAML), e.g. from 'rules export'")
        p.add_argument("--note", default="")
    else:
        p.add_argument("version", type=int)
    args = p.parse_args(argv)
    store = RuleStore(settings, timezone=timezone)
    async with db.transaction() as session:
        if command == "import":
            rule_set = parse_yaml(await asyncio.to_thread(args.file.read_text, encoding="utf-8"))
            row = await store.save(session, Actor.system(), {"rules": [r.model_dump(exclude_none=True) for r in rule_set.rules]},
                                   note=args.note or f"imported from {args.file.name}")
        else:
            row = await store.restore(session, Actor.system(), args.version)
        return [version_dict(row)]


async def _history(db: Database, settings: RoutingSettings, argv: list[str]) -> list[dict[str, Any]]:
    argparse.ArgumentParser(prog="frontdesk rules history").parse_args(argv)
    async with db.session() as session:
        return [version_dict(row) for row in await RuleStore(settings).history(session, Actor.system())]


async def _run(database_url: str, settings: RoutingSettings, command: str, argv: list[str],
               timezone: str = "UTC") -> list[dict[str, Any]] | str:
    db = Database(database_url)
    try:
        if command == "test":
            return await _test(db, settings, argv, timezone)
        if command == "replay":
            return await _replay(db, settings, argv, timezone)
        if command == "export":
            return await _export(db, settings, argv)
        if command in ("import", "restore"):
            return await _save(db, settings, command, argv, timezone)
        return await _history(db, settings, argv)
    finally:
        await db.close()


def rules_command(settings: Any, command: str, argv: list[str]) -> int:
    try:
        results = asyncio.run(_run(settings.database_url, settings.routing, command, argv, settings.timezone))
    except FrontdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for problem in (exc.details or {}).get("errors", []):
            print(f"  {problem['field']}: {problem['message']}", file=sys.stderr)
        return 2
    if isinstance(results, str):
        print(results, end="")
        return 0
    for result in results:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


def rules_test(settings: Any, argv: list[str]) -> int:
    return rules_command(settings, "test", argv)
