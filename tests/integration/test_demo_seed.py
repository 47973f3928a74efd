from sqlalchemy import func, select

from config.demo import DEMO_PASSWORD, seed
from config.services import Services
from core.records import Ticket
from core.users import authenticate


async def test_demo_data_lets_a_newcomer_log_in_and_see_tickets(services: Services) -> None:
    assert await seed(services) is True
    assert await seed(services) is False  # a second start keeps the data as it is
    async with services.db.session() as session:
        alice = await authenticate(session, "alice", DEMO_PASSWORD)
        assert alice is not None and alice.extension == "1001"
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar() == 3
        suggestions = await services.templates.suggest(session, "Refund for a damaged item", "I'd like a refund")
        assert suggestions and "refund" in suggestions[0].matched
