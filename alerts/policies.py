"""SLA policies: which one a ticket gets, its targets, its ladder; stored in the database.

Policies and calendars live in ``sla_policies``/``sla_calendars`` (seeded from the
settings on first start) so ops can edit them; every edit is audit-logged and bumps
a version. ``PolicyStore`` keeps the compiled ``PolicyBook`` in memory and reloads it
when the database's versions change, so several instances pick up edits.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calendar import AlwaysOpen, BusinessCalendar, WorkingTime
from alerts.records import SlaCalendar, SlaPolicy
from alerts.settings import (
    CalendarDefinition,
    LevelDefinition,
    PolicyDefinition,
    PolicyMatch,
    SlaSettings,
    level_offset,
)
from core.audit import record_change
from core.auth import Actor
from core.clock import Clock
from core.db import one_at_a_time
from core.errors import InvalidInput, NotFound
from core.records import Priority, Role, Ticket
from routing.contact import is_callback

TARGETS = ("first_response", "next_response", "resolution")
TARGET_LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}
def default_policies(settings: SlaSettings) -> list[PolicyDefinition]:
    """The built-in ladder: 80% email, breach SMS, +1h supervisors, +4h supervisors again."""
    ladder = [
        LevelDefinition(at="80%", channels=["email"], recipients=["assignee"], working_hours=True),
        LevelDefinition(at="+0", channels=["sms"], recipients=["assignee"]),
        LevelDefinition(at="+1h", channels=["sms", "email"], recipients=["supervisors"]),
        LevelDefinition(at="+4h", channels=["email"], recipients=["supervisors"]),
    ]
    return [
        PolicyDefinition(
            name="callback",
            position=10,
            match=PolicyMatch(callback=True),
            calendar="office",
            first_response_minutes=60,
            resolution_minutes=8 * 60,
            levels=ladder[:3],
        ),
        PolicyDefinition(
            name="email",
            position=50,
            match=PolicyMatch(channel=["email"]),
            calendar="office",
            first_response_minutes=settings.email_first_response_hours * 60,
            next_response_minutes=settings.email_first_response_hours * 60,
            resolution_minutes=5 * 9 * 60,
            levels=ladder,
        ),
        PolicyDefinition(
            name="default",
            position=1000,
            calendar="office",
            first_response_minutes=24 * 60,
            next_response_minutes=24 * 60,
            levels=ladder,
        ),
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Level:
    index: int
    kind: str  # "percent" | "after"
    value: float
    definition: LevelDefinition


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    definition: PolicyDefinition
    working: WorkingTime  # how the targets count (business or calendar time)
    hours: WorkingTime  # when working-hours levels may fire
    levels: tuple[Level, ...]

    @property
    def name(self) -> str:
        return self.definition.name

    def target_seconds(self, target: str) -> float | None:
        minutes = getattr(self.definition, f"{target}_minutes")
        return None if minutes is None else float(minutes) * 60

    def matches(self, ticket: Ticket, tier: str | None) -> bool:
        m = self.definition.match
        if not self.definition.enabled:
            return False
        if m.channel and ticket.channel not in m.channel:
            return False
        if m.queue and ticket.queue not in m.queue:
            return False
        if m.priority and Priority(ticket.priority).name.lower() not in m.priority:
            return False
        if m.tier and (tier or "") not in m.tier:
            return False
        if m.category and ticket.category not in m.category:
            return False
        return m.callback is None or m.callback == is_callback(ticket.channel, ticket.subject or "")

    def fire_time(self, level: Level, deadline: datetime, target_seconds: float) -> datetime:
        """Shares of the target count in the policy's time; "+1h" after breach is wall time."""
        if level.kind == "percent":
            at = self.working.add(deadline, (level.value - 1) * target_seconds)
        else:
            at = AlwaysOpen().add(deadline, level.value)
        if level.definition.working_hours:
            at = self.hours.next_open(at)
        return at


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyBook:
    policies: tuple[Policy, ...]
    calendars: dict[str, WorkingTime]

    def select(self, ticket: Ticket, tier: str | None) -> Policy | None:
        for policy in self.policies:
            if policy.matches(ticket, tier):
                return policy
        return None

    def get(self, name: str | None) -> Policy | None:
        return next((p for p in self.policies if p.name == name), None)


def compile_book(
    policies: Sequence[PolicyDefinition], calendars: Sequence[CalendarDefinition], server_tz: str
) -> PolicyBook:
    cals: dict[str, WorkingTime] = {}
    for c in calendars:
        cals[c.name] = BusinessCalendar(c.name, c.timezone or server_tz, c.hours, c.holidays)
    compiled = []
    for p in sorted(policies, key=lambda d: (d.position, d.name)):
        hours = cals.get(p.calendar) if p.calendar else AlwaysOpen()
        if hours is None:
            raise InvalidInput("the policy names an unknown calendar",
                               {"policy": p.name, "calendar": p.calendar, "field": "calendar"})
        levels = tuple(Level(i, *level_offset(ld.at), ld) for i, ld in enumerate(p.levels))
        compiled.append(Policy(p, hours, hours, levels))
    return PolicyBook(tuple(compiled), cals)


def _definition(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(str(x) for x in e["loc"]) or "definition": e["msg"] for e in exc.errors()}
        problems = [f"{field}: {message}" for field, message in fields.items()]
        # ``fields`` by dotted path (levels.0.at) so a form shows each next to its input.
        raise InvalidInput("the definition is not valid",
                           {"problems": problems, "fields": fields, "field": next(iter(fields))}) from None


def policy_definition(data: dict[str, Any]) -> PolicyDefinition:
    """A policy as sent (form, YAML, API) checked; ``InvalidInput`` names the fields."""
    pol: PolicyDefinition = _definition(PolicyDefinition, data)
    return pol


class PolicyStore:
    """Loads, caches and edits the policies and calendars."""

    def __init__(
        self, settings: SlaSettings, server_tz: str, clock: Clock, ttl: float = 5.0,
        check_level: Callable[[LevelDefinition, str], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        # Renders a level's templates against a sample (``AlertMessages.check_level``), so a
        # template that cannot render is refused when it is saved, not found when it is due.
        self.check_level = check_level
        self.server_tz = server_tz
        self.clock = clock
        self.ttl = ttl
        self._book: PolicyBook | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0

    def invalidate(self) -> None:
        self._checked = 0.0

    async def seed(self, session: AsyncSession) -> None:
        """Write the configured (or built-in) policies when the table is empty, and every
        configured calendar the database does not have yet: a calendar edited in the browser
        keeps its edits (the database wins), one added to the config file later still arrives.
        Instances starting together take turns: each calendar and policy is written once."""
        await one_at_a_time(session, "sla-seed")
        stored = set((await session.execute(select(SlaCalendar.name))).scalars())
        for cal in self.settings.calendars:
            if cal.name not in stored:
                session.add(SlaCalendar(name=cal.name, definition=cal.model_dump(), updated_at=self.clock.now()))
        if (await session.execute(select(func.count()).select_from(SlaPolicy))).scalar() == 0:
            for pol in self.settings.policies or default_policies(self.settings):
                session.add(self._policy_row(pol))
        await session.flush()
        self.invalidate()

    def _policy_row(self, pol: PolicyDefinition) -> SlaPolicy:
        return SlaPolicy(
            name=pol.name,
            position=pol.position,
            enabled=pol.enabled,
            definition=pol.model_dump(),
            updated_at=self.clock.now(),
        )

    async def book(self, session: AsyncSession) -> PolicyBook:
        """The current compiled policies; re-read when the stored versions change."""
        now = time.monotonic()
        if self._book is not None and now - self._checked < self.ttl:
            return self._book
        stamp = tuple(
            (
                await session.execute(
                    select(func.count(SlaPolicy.id), func.sum(SlaPolicy.version), func.max(SlaPolicy.updated_at))
                )
            ).one()
        ) + tuple(
            (await session.execute(select(func.count(SlaCalendar.id), func.sum(SlaCalendar.version)))).one()
        )
        if self._book is None or stamp != self._stamp:
            pols = [PolicyDefinition.model_validate(r.definition) for r in (await session.execute(select(SlaPolicy))).scalars()]
            cals = [CalendarDefinition.model_validate(r.definition) for r in (await session.execute(select(SlaCalendar))).scalars()]
            self._book = compile_book(pols, cals, self.server_tz)
            self._stamp = stamp
        self._checked = now
        return self._book

    # -- what ops do ----------------------------------------------------------------
    async def list_policies(self, session: AsyncSession, actor: Actor) -> list[SlaPolicy]:
        actor.require(Role.SUPERVISOR, Role.OPS)
        return list((await session.execute(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.name))).scalars())

    async def list_calendars(self, session: AsyncSession, actor: Actor) -> list[SlaCalendar]:
        actor.require(Role.SUPERVISOR, Role.OPS)
        return list((await session.execute(select(SlaCalendar).order_by(SlaCalendar.name))).scalars())

    async def save_policy(self, session: AsyncSession, actor: Actor, data: dict[str, Any]) -> SlaPolicy:
        """Create or replace a policy by name; validated (including its calendar) first."""
        actor.require(Role.OPS)
        pol: PolicyDefinition = _definition(PolicyDefinition, data)
        cals = [CalendarDefinition.model_validate(r.definition) for r in (await session.execute(select(SlaCalendar))).scalars()]
        compile_book([pol], cals, self.server_tz)
        if self.check_level is not None:
            for index, level in enumerate(pol.levels):
                await self.check_level(level, f"SLA policy {pol.name!r} level {index + 1}")
        columns = {"position": pol.position, "enabled": pol.enabled}
        row: SlaPolicy = await self._upsert(session, actor, SlaPolicy, "sla_policy", pol.name, pol.model_dump(), columns)
        return row

    async def save_calendar(self, session: AsyncSession, actor: Actor, data: dict[str, Any]) -> SlaCalendar:
        actor.require(Role.OPS)
        cal: CalendarDefinition = _definition(CalendarDefinition, data)
        BusinessCalendar(cal.name, cal.timezone or self.server_tz, cal.hours, cal.holidays)
        row: SlaCalendar = await self._upsert(session, actor, SlaCalendar, "sla_calendar", cal.name, cal.model_dump(), {})
        return row

    async def _upsert(
        self, session: AsyncSession, actor: Actor, model: Any, entity: str, name: str,
        definition: dict[str, Any], columns: dict[str, Any],
    ) -> Any:
        """Insert or replace by name, bump the version, audit the before and after."""
        row = (await session.execute(select(model).where(model.name == name))).scalar()
        before = dict(row.definition) if row else None
        if row is None:
            row = model(name=name, definition=definition, updated_at=self.clock.now(), **columns)
            session.add(row)
        else:
            row.definition = definition
            for key, value in columns.items():
                setattr(row, key, value)
            row.version += 1
            row.updated_at = self.clock.now()
        await session.flush()
        record_change(session, actor, f"{entity.replace('_', '.')}.save", entity, name, before, definition)
        self.invalidate()
        return row

    async def delete_policy(self, session: AsyncSession, actor: Actor, name: str) -> None:
        actor.require(Role.OPS)
        row = (await session.execute(select(SlaPolicy).where(SlaPolicy.name == name))).scalar()
        if row is None:
            raise NotFound("no such policy", {"name": name})
        record_change(session, actor, "sla.policy.delete", "sla_policy", name, dict(row.definition), None)
        await session.delete(row)
        await session.flush()
        self.invalidate()
