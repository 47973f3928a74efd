"""Policies live in the database: ops edit them (audited), open tickets follow in the background;
and two scanners sharing one database still fire every level once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from alerts.bulk import insert_tickets, spread, ticket_row
from alerts.records import Escalation
from alerts.wiring import build_sla
from config.app import build_services
from config.services import Services
from config.settings import Settings
from core.auth import Actor
from core.clock import ManualClock, as_utc
from core.errors import Forbidden, InvalidInput
from core.records import AuditLog, EntryKind, Role, Ticket
from core.users import add_user
from routing.contact import Contact

AGENT = Actor(None, "alice", frozenset({Role.AGENT}))
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def _ops(services: Services) -> Actor:
    async with services.db.transaction() as session:
        return Actor.of(await add_user(session, "otto", "password1", "Otto Ops", ["ops"]))


async def _ticket(services: Services, channel: str = "email") -> Ticket:
    async with services.db.session() as session:
        accepted = await services.desk.accept(
            session, Contact(channel, None, subject="help"), EntryKind.EMAIL_IN, {"text": "help"}
        )
        await services.desk.commit_and_publish(session)
    return accepted.ticket


async def test_editing_a_policy_moves_the_deadlines_of_open_tickets(services: Services) -> None:
    services.settings.timezone = "Asia/Shanghai"
    parts = build_sla(services)
    ops = await _ops(services)
    async with services.db.transaction() as session:
        await parts.store.seed(session)
    ticket = await _ticket(services)
    first = ticket.sla_state["targets"]["first_response"]["deadline"]
    assert ticket.sla_policy == "email"
    assert first == datetime(2026, 1, 6, 4, 0, tzinfo=UTC).isoformat()  # 12 business hours: Tuesday 12:00

    async with services.db.transaction() as session:
        policies = await parts.store.list_policies(session, ops)
        email = next(p.definition for p in policies if p.name == "email")
        with pytest.raises(Forbidden):
            await parts.store.save_policy(session, AGENT, {**email, "first_response_minutes": 60})
        with pytest.raises(InvalidInput):
            await parts.store.save_policy(session, ops, {**email, "calendar": "nowhere"})
        await parts.store.save_policy(session, ops, {**email, "first_response_minutes": 60})
    moved = await parts.service.recompute_open_tickets()
    assert moved == 1
    async with services.db.session() as session:
        again = await services.desk.get(session, Actor.system(), ticket.id)
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "sla.policy.save"))).scalar_one()
    assert again.sla_state["targets"]["first_response"]["deadline"] == (START + timedelta(hours=1)).isoformat()
    assert as_utc(again.due_at) == START + timedelta(minutes=48)  # type: ignore[arg-type]  # the 80 % warning
    assert audit.actor_id == ops.user_id and audit.before and audit.before["first_response_minutes"] == 720


async def test_calendar_edits_are_validated(services: Services) -> None:
    parts = build_sla(services)
    ops = await _ops(services)
    async with services.db.transaction() as session:
        await parts.store.seed(session)
        with pytest.raises(InvalidInput):
            await parts.store.save_calendar(session, ops, {"name": "office", "hours": {"mon": ["18:00-09:00"]}})
        saved = await parts.store.save_calendar(
            session, ops, {"name": "office", "timezone": "Europe/Berlin", "hours": {"mon": ["08:00-16:00"]},
                           "holidays": ["2026-12-25"]})
    assert saved.version == 2


async def test_two_scanners_on_one_database_fire_each_level_once(services: Services, settings: Settings) -> None:
    first = build_sla(services)
    async with services.db.transaction() as session:
        await first.store.seed(session)
        policy = (await first.store.book(session)).get("default")
    assert policy is not None
    await insert_tickets(services.db, (ticket_row(policy, t) for t in spread(START - timedelta(days=30), timedelta(days=1), 400)))
    other = build_services(settings, services.clock)
    second = build_sla(other)

    async def drain(scanner_parts: object) -> None:
        scanner = scanner_parts.scanner  # type: ignore[attr-defined]
        while True:
            try:
                if await scanner.scan_once() == 0:
                    return
            except DBAPIError:  # SQLite: the other instance wrote first; the supervised loop retries
                await asyncio.sleep(0.01)

    try:
        await asyncio.gather(drain(first), drain(second))
    finally:
        await other.db.close()
    async with services.db.session() as session:
        rows = (await session.execute(
            select(Escalation.ticket_id, Escalation.level, func.count()).group_by(Escalation.ticket_id, Escalation.level)
        )).all()
    # Thirty days overdue: all four rungs of the default ladder, on every ticket, once each.
    assert len(rows) == 400 * 4 and all(n == 1 for *_, n in rows)


async def test_a_stale_overwrite_of_the_clock_never_fires_a_level_twice(services: Services) -> None:
    """A concurrent change may write back the clock as it was before a scan fired a level;
    the next scan sees the escalation row and moves on instead of failing or repeating it."""
    parts = build_sla(services)
    async with services.db.transaction() as session:
        await parts.store.seed(session)
    ticket = await _ticket(services)
    stale = dict(ticket.sla_state)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await parts.scanner.scan_once() == 1
    async with services.db.transaction() as session:
        row = await session.get(Ticket, ticket.id)
        assert row is not None
        row.sla_state = stale
        await parts.sla_clock.recompute(session, row)
    assert await parts.scanner.scan_once() == 1
    assert await parts.scanner.scan_once() == 0
    async with services.db.session() as session:
        rows = (await session.execute(
            select(Escalation.level, func.count()).where(Escalation.ticket_id == ticket.id).group_by(Escalation.level)
        )).all()
    assert sorted(rows) == [(0, 1), (1, 1), (2, 1), (3, 1)]
