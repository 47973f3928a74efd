"""Instances started together on a fresh PostgreSQL database seed the SLA calendars and
policies once: the second waits for the first and finds them, instead of failing to start
on a duplicate calendar (found by the database-restart cluster test) or writing the default
policies twice (every escalation would fire twice)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from alerts.policies import default_policies
from alerts.records import SlaCalendar, SlaPolicy
from alerts.wiring import build_sla
from config.app import build_services
from config.settings import Settings


@pytest.mark.postgres_only
async def test_three_instances_seeding_at_once_write_every_calendar_and_policy_once(settings: Settings) -> None:
    instances = [build_services(settings) for _ in range(3)]
    try:
        stores = [build_sla(services).store for services in instances]

        async def seed(n: int) -> None:
            async with instances[n].db.transaction() as session:
                await stores[n].seed(session)

        await asyncio.gather(*(seed(n) for n in range(3)))
        async with instances[0].db.session() as session:
            calendars = list((await session.execute(select(SlaCalendar.name))).scalars())
            policies = (await session.execute(select(func.count()).select_from(SlaPolicy))).scalar()
    finally:
        for services in instances:
            await services.db.close()
    assert calendars and len(calendars) == len(set(calendars))
    assert policies == len(settings.sla.policies or default_policies(settings.sla)), "the policies written once"
