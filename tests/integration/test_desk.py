"""The one queue: contacts route onto tickets the way the default policy promises."""

from __future__ import annotations

import pytest

from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.errors import Forbidden, InvalidInput
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended
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


async def test_a_customers_new_mail_is_a_new_ticket_and_a_reply_joins_its_thread(services: Services) -> None:
    cid = await _customer(services, "zhang")
    first, created = await _contact(services, Contact("email", cid, subject="Question about upgrading my plan"))
    second, created_again = await _contact(services, Contact("email", cid, subject="Refund request for invoice 42"))
    reply, created_reply = await _contact(services, Contact("email", cid, subject="Re: Refund request", ticket_id=second))
    assert created and created_again and first != second
    assert reply == second and not created_reply


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


async def test_an_agent_hands_their_own_ticket_to_a_colleague_but_not_someone_elses(
    services: Services, people: dict[str, Actor]
) -> None:
    tid, _ = await _contact(services, Contact("web", None, subject="Walk-in"))
    async with services.db.session() as session:
        await services.desk.assign(session, people["agent"], tid, people["agent"].user_id)
        await services.desk.assign(session, people["agent"], tid, people["other"].user_id)
        await services.desk.commit_and_publish(session)
        timeline = await services.desk.timeline(session, people["agent"], tid)
        assert [e.payload["to"] for e in timeline if e.kind == EntryKind.ASSIGNMENT] == [
            people["agent"].user_id, people["other"].user_id]
    async with services.db.session() as session:
        with pytest.raises(Forbidden):  # now Bob's: Alice cannot pass it on or drop it
            await services.desk.assign(session, people["agent"], tid, people["agent"].user_id + 100)
        with pytest.raises(Forbidden):
            await services.desk.assign(session, people["agent"], tid, None)
        with pytest.raises(InvalidInput):  # a supervisor is not an agent to hand work to
            await services.desk.assign(session, people["other"], tid, people["supervisor"].user_id)
        await session.rollback()
    async with services.db.session() as session:
        await services.desk.assign(session, people["supervisor"], tid, people["agent"].user_id)
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


async def test_a_batch_written_in_one_flush_routes_as_if_contacts_came_one_by_one(
    services: Services, people: dict[str, Actor]
) -> None:
    """A channel importing a batch prefetches and writes at the end; the routing must not change."""
    waiting = await _customer(services, "chen")  # has an open ticket: a reply joins it, a new mail does not
    open_tid, _ = await _contact(services, Contact("email", waiting, subject="Where is my order"))
    returning = await _customer(services, "liu")  # had a ticket alice solved
    solved_tid, _ = await _contact(services, Contact("email", returning, subject="Old question"))
    async with services.db.session() as session:
        await services.desk.assign(session, people["agent"], solved_tid, people["agent"].user_id)
        await services.desk.set_status(session, people["agent"], solved_tid, TicketStatus.SOLVED.value)
        await services.desk.commit_and_publish(session)
    newcomer = await _customer(services, "zhou")
    seen: list[DomainEvent] = []

    async def on_event(event: DomainEvent) -> None:
        seen.append(event)

    services.bus.subscribe(DomainEvent, on_event)
    async with services.db.session() as session:
        await services.desk.prefetch(session, [waiting, returning, newcomer])
        batch = [
            await services.desk.accept(session, Contact("email", cid, subject=subject), EntryKind.EMAIL_IN, {}, flush=False)
            for cid, subject in [(waiting, "Any news?"), (returning, "New question"), (newcomer, "Hello"), (newcomer, "Another matter")]
        ]
        batch.append(await services.desk.accept(session, Contact("email", waiting, subject="Re: Where is my order", ticket_id=open_tid),
                                                EntryKind.EMAIL_IN, {}, flush=False))
        await services.desk.commit_and_publish(session)
    other, fresh, first, second, joined = (a.ticket for a in batch)
    assert batch[0].created and other.id != open_tid
    assert joined.id == open_tid and not batch[4].created
    assert batch[1].created and fresh.id != solved_tid and fresh.assignee_id == people["agent"].user_id
    assert batch[2].created and batch[3].created and first.id != second.id
    created = [e for e in seen if isinstance(e, TicketCreated)]
    assert sorted(e.ticket_id for e in created) == sorted([other.id, fresh.id, first.id, second.id])
    appended = [e for e in seen if isinstance(e, TimelineAppended)]
    assert sorted(e.entry_id for e in appended) == sorted(a.entry.id for a in batch if a.entry is not None)
