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
