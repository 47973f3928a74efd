"""The business calendars a rule's "inside / outside business hours" condition names.

They are the SLA calendars ops already keep (``sla_calendars``), read here so a rule and an
SLA policy naming the same calendar agree on when the business is open. A calendar without
a time zone is in the server's, as for SLA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime


async def calendar_stamp(session: AsyncSession) -> tuple[int, int]:
    """Changes whenever a calendar is added, changed or removed (a cheap check before reading them)."""
    from alerts.records import (
        SlaCalendar,  # here: alerts imports the desk, which imports routing's engine
    )

    count, versions = (await session.execute(select(func.count(SlaCalendar.id), func.coalesce(func.sum(SlaCalendar.version), 0)))).one()
    return int(count), int(versions)


async def business_calendars(session: AsyncSession, server_tz: str) -> Mapping[str, WorkingTime]:
    from alerts.calendar import BusinessCalendar
    from alerts.records import SlaCalendar
    from alerts.settings import CalendarDefinition

    calendars: dict[str, WorkingTime] = {}
    for row in (await session.execute(select(SlaCalendar))).scalars():
        definition = CalendarDefinition.model_validate(row.definition)
        calendars[definition.name] = BusinessCalendar(definition.name, definition.timezone or server_tz,
                                                      definition.hours, definition.holidays)
    return calendars
