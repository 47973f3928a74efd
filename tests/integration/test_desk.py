"""The one queue: contacts route onto tickets the way the default policy promises."""

from __future__ import annotations

import pytest

from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.errors import Forbidden, InvalidInput
from core.events import DomainEvent, TicketCreated, TicketUpdated
from core.records import EntryKind, Priority, TicketStatus
from core.users import add_user
from routing import Contact, TicketFilter


@pytest.fixture
async def people(services: Services) -> dict[str, Actor]:
    async with services.db.transaction() as session:
        agent = await add_user(session, "alice", "password1", "Alice", ["agent"], extension="1001")
        other = await add_user(session, "bob", "password1", "Bob", ["agent"], extension="1002")
        boss = await add_user(session, "sue", "password1", "Sue", ["supervisor"])
        return {"agent": Actor.of(agent), "other": Actor.of(other), "supervisor": Actor.of(boss)}


async def _customer(services: Services, name: str, tier: str = "standard") -> int:
    async with services.db.transaction() as session:
        c = await create_customer(session, Actor.system(), CustomerDraft(name=name, tier=tier, emails=[f"{name}@example.com"]))
        return c.id


async def _contact(services: Services, contact: Contact) -> tuple[int, bool]:
    async with services.db.session() as session:
        accepted = await services.desk.accept(session, contact, EntryKind.EMAIL_IN, {"subject": contact.subject})
        await services.desk.commit_and_publish(session)
        return accepted.ticket.id, accepted.created


async def test_a_customer_with_an_open_ticket_joins_it(services: Services) -> None:
    cid = await _customer(services, "zhang")
    first, created = await _contact(services, Contact("email", cid, subject="Refund please"))
    second, created_again = await _contact(services, Contact("email", cid, subject="Re: Refund please"))
    assert created and not created_again
    assert first == second


async def test_vip_customers_get_higher_priority_and_queue_per_channel(services: Services) -> None:
    vip = await _customer(services, "vip", tier="vip")
    tid, _ = await _contact(services, Contact("voice", vip, customer_tier="vip", address="+8613800138000"))
    async with services.db.session() as session:
        ticket = await services.desk.get(session, Actor.system(), tid)
        assert ticket.priority == Priority.HIGH
        assert ticket.queue == "phone"


async def test_the_customers_last_agent_is_preferred(services: Services, people: dict[str, Actor]) -> None:
    cid = await _customer(services, "li")
    tid, _ = await _contact(services, Contact("email", cid, subject="First"))
    async with services.db.session() as session:
        await services.desk.assign(session, people["agent"], tid, people["agent"].user_id)
        await services.desk.set_status(session, people["agent"], tid, TicketStatus.SOLVED.value)
        await services.desk.commit_and_publish(session)
    new_tid, created = await _contact(services, Contact("email", cid, subject="Second"))
    assert created and new_tid != tid
    async with services.db.session() as session:
        ticket = await services.desk.get(session, Actor.system(), new_tid)
        assert ticket.assignee_id == people["agent"].user_id


async def test_events_are_published_only_after_commit(services: Services) -> None:
    seen: list[DomainEvent] = []

    async def on_event(event: DomainEvent) -> None:
        seen.append(event)

    services.bus.subscribe(DomainEvent, on_event)
    cid = await _customer(services, "wang")
    async with services.db.session() as session:
        await services.desk.accept(session, Contact("email", cid, subject="Hi"), EntryKind.EMAIL_IN, {})
        assert seen == []
        await session.rollback()
    assert seen == []
    await _contact(services, Contact("email", cid, subject="Hi"))
    assert any(isinstance(e, TicketCreated) for e in seen)


async def test_an_agent_cannot_give_a_ticket_to_someone_else(services: Services, people: dict[str, Actor]) -> None:
    tid, _ = await _contact(services, Contact("web", None, subject="Walk-in"))
    async with services.db.session() as session:
        with pytest.raises(Forbidden):
            await services.desk.assign(session, people["agent"], tid, people["other"].user_id)
        await session.rollback()
    async with services.db.session() as session:
        await services.desk.assign(session, people["supervisor"], tid, people["other"].user_id)
        await services.desk.commit_and_publish(session)
        mine = await services.desk.list_tickets(session, people["other"], TicketFilter(assignee_id=people["other"].user_id))
        assert [t.id for t in mine] == [tid]


async def test_status_change_and_note_read_top_to_bottom_in_the_timeline(services: Services, people: dict[str, Actor]) -> None:
    updates: list[TicketUpdated] = []

    async def on_update(event: TicketUpdated) -> None:
        updates.append(event)

    services.bus.subscribe(TicketUpdated, on_update)
    tid, _ = await _contact(services, Contact("web", None, subject="Printer on fire"))
    async with services.db.session() as session:
        await services.desk.add_note(session, people["agent"], tid, "Called the customer back")
        await services.desk.set_status(session, people["agent"], tid, "pending-customer")
        await services.desk.commit_and_publish(session)
        kinds = [e.kind for e in await services.desk.timeline(session, people["agent"], tid)]
    assert kinds == ["email_in", "note", "status_change"]
    assert {"status"} <= {f for u in updates for f in u.fields}


async def test_bad_values_write_nothing(services: Services, people: dict[str, Actor]) -> None:
    tid, _ = await _contact(services, Contact("web", None, subject="x"))
    async with services.db.session() as session:
        with pytest.raises(InvalidInput):
            await services.desk.update_fields(session, people["agent"], tid, {"priority": "urgent", "category": "nonsense"})
        with pytest.raises(InvalidInput):
            await services.desk.set_status(session, people["agent"], tid, "lost")
        with pytest.raises(InvalidInput):
            await services.desk.add_note(session, people["agent"], tid, "   ")
        await session.commit()
        ticket = await services.desk.get(session, people["agent"], tid)
        assert ticket.priority == Priority.NORMAL
        assert ticket.status == TicketStatus.NEW.value
