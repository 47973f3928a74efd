"""The privacy policy admins set: which roles see contact details masked, and how long closed
tickets' contents and call records are kept. One row (``privacy_policy``), audited on change.

``PolicyCache`` keeps the current answer in memory for the request path (masking decides per
request without a query); the server refreshes it every few seconds and at once after a save,
so several instances agree within that time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.db import Database
from core.errors import InvalidInput
from core.records import Role
from core.supervisor import SupervisedTask
from privacy.records import PrivacyPolicy

MAX_DAYS = 36_500
REFRESH_EVERY_S = 5.0
MASKABLE = (Role.AGENT, Role.SUPERVISOR, Role.OPS, Role.ADMIN)


@dataclasses.dataclass(frozen=True, slots=True)
class PrivacySettings:
    masked_roles: frozenset[str] = frozenset()
    ticket_days: int | None = None  # closed tickets' bodies and attachments; None: kept for ever
    call_days: int | None = None  # call records' numbers and names

    def masks(self, actor: Actor) -> bool:
        """Masked when every role the person holds is a masked one: a supervisor (who is also an
        agent) sees full values while only agents are masked; an admin holds every role."""
        return bool(self.masked_roles) and bool(actor.roles) and {r.value for r in actor.roles} <= self.masked_roles

    def as_dict(self) -> dict[str, Any]:
        return {"masked_roles": sorted(self.masked_roles), "ticket_days": self.ticket_days,
                "call_days": self.call_days}


async def read_settings(session: AsyncSession) -> PrivacySettings:
    row = (await session.execute(select(PrivacyPolicy).order_by(PrivacyPolicy.id).limit(1))).scalars().first()
    if row is None:
        return PrivacySettings()
    return PrivacySettings(frozenset(str(r) for r in row.masked_roles or []), row.ticket_days, row.call_days)


def _days(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise InvalidInput("a number of days from 1 to 36500, or empty to keep for ever", {"field": field})
    days = int(str(value).strip())
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("a number of days from 1 to 36500, or empty to keep for ever", {"field": field})
    return days


def parse_settings(masked_roles: list[str], ticket_days: Any, call_days: Any) -> PrivacySettings:
    known = {r.value for r in MASKABLE}
    unknown = [r for r in masked_roles if r not in known]
    if unknown:
        raise InvalidInput("unknown role", {"field": "masked_roles", "value": unknown[0]})
    return PrivacySettings(frozenset(masked_roles), _days(ticket_days, "ticket_days"), _days(call_days, "call_days"))


async def save_settings(session: AsyncSession, actor: Actor, wanted: PrivacySettings, now: datetime) -> PrivacySettings:
    actor.require(Role.ADMIN)
    row = (await session.execute(select(PrivacyPolicy).order_by(PrivacyPolicy.id).limit(1))).scalars().first()
    before = (await read_settings(session)).as_dict()
    if row is None:
        row = PrivacyPolicy(id=1)
        session.add(row)
    row.masked_roles = sorted(wanted.masked_roles)
    row.ticket_days, row.call_days = wanted.ticket_days, wanted.call_days
    row.updated_at, row.updated_by = now, actor.user_id
    record_change(session, actor, "privacy.policy", "privacy_policy", 1, before=before, after=wanted.as_dict())
    return wanted


class PolicyCache:
    """The current settings for the request path, refreshed from the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.current = PrivacySettings()

    async def refresh(self) -> PrivacySettings:
        async with self.db.session() as session:
            self.current = await read_settings(session)
        return self.current

    async def run(self, task: SupervisedTask) -> None:
        while True:
            await self.refresh()
            task.healthy()
            await asyncio.sleep(REFRESH_EVERY_S)
