from contextlib import AsyncExitStack

from sqlalchemy import func, select

from config.app import build_services
from config.demo import DEMO_PASSWORD, demo_extras, seed
from config.settings import Settings
from core.records import Ticket, TimelineEntry
from core.users import authenticate


async def test_demo_data_lets_a_newcomer_log_in_and_see_tickets(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        services = build_services(await demo_extras(settings, stack))
        try:
            assert await seed(services) is True
            assert await seed(services) is False  # a second start keeps the data as it is
            async with services.db.session() as session:
                alice = await authenticate(session, "alice", DEMO_PASSWORD)
                assert alice is not None and alice.extension == "1001"
                assert (await session.execute(select(func.count()).select_from(Ticket))).scalar() >= 3
                entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == "email_in"))).scalars().all()
                languages_suggested = [e.payload.get("suggestions") for e in entries]
                assert all(languages_suggested), "every sample mail comes with suggested templates"
        finally:
            await services.db.close()


async def test_the_demo_escalations_reach_its_staff_by_email_and_sms(settings: Settings) -> None:
    """The demo's SLA policy breaches minutes after start: each level reaches someone (its
    email and SMS sinks show it), not a warning that it reached nobody."""
    from alerts.demo import DEMO_POLICY
    from alerts.recipients import Directory

    async with AsyncExitStack() as stack:
        services = build_services(await demo_extras(settings, stack))
        try:
            await seed(services)
            async with services.db.session() as session:
                directory = await Directory.load(session, "US")
                unassigned = (await session.execute(select(Ticket).where(Ticket.assignee_id.is_(None)).limit(1))).scalar_one()
                for level in DEMO_POLICY.levels:
                    reached = directory.resolve(level.recipients, level.channels, unassigned)
                    assert reached, f"level at {level.at} reaches nobody"
                    assert {r.channel for r in reached} == set(level.channels), f"level at {level.at}: {reached}"
        finally:
            await services.db.close()
