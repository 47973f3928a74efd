"""Customer administration in the domain services: validation that names the field, merging
and undoing a merge (exactly, within a day, refused after), linking a ticket, and the CSV
import's dry run and all-or-nothing import, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from config.services import Services
from core.auth import Actor
from core.clock import Clock, ManualClock
from core.customer_import import import_customers, plan_import
from core.customer_linking import link_ticket
from core.customer_merging import merge_customers, unmerge_customer
from core.customer_profile import customer_profile
from core.customers import (
    CustomerDraft,
    create_customer,
    customer_dict,
    find_by_email,
    find_by_phone,
    list_customers,
    update_customer,
)
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.records import AuditLog, Customer, EntryKind, Role
from cti.records import CallRecord
from routing import Contact

AGENT = Actor(None, "agent", frozenset({Role.AGENT}))
SUPERVISOR = Actor(None, "supervisor", frozenset({Role.SUPERVISOR, Role.AGENT}))


@pytest.fixture
def clock() -> Clock:
    return ManualClock()


async def _customer(services: Services, **fields: object) -> int:
    async with services.db.transaction() as session:
        return (await create_customer(session, AGENT, CustomerDraft(**fields))).id  # type: ignore[arg-type]


async def test_a_bad_phone_or_email_is_refused_naming_the_field(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(InvalidInput) as bad_phone:
            await create_customer(session, AGENT, CustomerDraft(name="Ana", phones=["12ab"]))
        assert bad_phone.value.details["field"] == "phones"
        with pytest.raises(InvalidInput) as bad_email:
            await create_customer(session, AGENT, CustomerDraft(name="Ana", emails=["ana.example.com"]))
        assert bad_email.value.details["field"] == "emails"
        with pytest.raises(InvalidInput) as no_domain:
            await create_customer(session, AGENT, CustomerDraft(name="Ana", emails=["ana@example"]))
        assert no_domain.value.details["field"] == "emails"
    ana = await _customer(services, name="Ana", phones=["+34 612 34 56 78"], emails=["Ana@Example.es"])
    async with services.db.transaction() as session:
        with pytest.raises(InvalidInput) as edit:
            await update_customer(session, AGENT, ana, {"phones": ["not a number"]})
        assert edit.value.details["field"] == "phones"
    async with services.db.session() as session:
        stored = customer_dict(await session.get_one(Customer, ana))
        assert stored["phones"] == ["+34612345678"] and stored["emails"] == ["ana@example.es"]
        assert [c.id for c in await list_customers(session, AGENT, "612 34 56", region="ES")] == [ana]


async def _snapshot(services: Services, *ids: int) -> dict[int, object]:
    async with services.db.session() as session:
        found: dict[int, object] = {}
        for cid in ids:
            customer = await session.get_one(Customer, cid)
            tickets = sorted((await session.execute(
                select(func.count()).select_from(CallRecord).where(CallRecord.customer_id == cid))).scalars())
            profile = await customer_profile(session, AGENT, cid)
            found[cid] = (customer_dict(customer), sorted(t.id for t in profile.tickets), tickets)
        return found


async def test_merge_and_unmerge_round_trip_exactly(services: Services) -> None:
    mail_one = await _customer(services, name="Lucía Pérez", emails=["lucia@example.es"], tags=["web"])
    mail_two = await _customer(services, name="Lucia P.", emails=["lucia.p@work.example"], phones=["+34600111222"],
                               tags=["b2b"])
    async with services.db.session() as session:
        for cid, subject in ((mail_one, "Factura"), (mail_two, "Pedido"), (mail_two, "Otra")):
            await services.desk.accept(session, Contact("email", cid, subject=subject), EntryKind.EMAIL_IN,
                                       {"subject": subject, "text": subject})
        await services.desk.commit_and_publish(session)
    async with services.db.transaction() as session:
        session.add(CallRecord(pbx="pbx", linkedid="c-1", direction="inbound", number="+34600111222",
                               customer_id=mail_two))
    before = await _snapshot(services, mail_one, mail_two)

    async with services.db.transaction() as session:
        await merge_customers(session, AGENT, mail_one, mail_two, services.clock.now())
    async with services.db.session() as session:
        survivor = await session.get_one(Customer, mail_one)
        merged = await session.get_one(Customer, mail_two)
        assert merged.merged_into_id == mail_one and merged.phones == [] and merged.emails == []
        assert sorted(e.address for e in survivor.emails) == ["lucia.p@work.example", "lucia@example.es"]
        assert survivor.tags == ["web", "b2b"]
        assert (await find_by_phone(session, "+34600111222")).id == mail_one  # type: ignore[union-attr]
        assert (await find_by_email(session, "lucia.p@work.example")).id == mail_one  # type: ignore[union-attr]
        assert len((await customer_profile(session, AGENT, mail_one)).tickets) == 3
        call = (await session.execute(select(CallRecord))).scalar_one()
        assert call.customer_id == mail_one
        assert [c.id for c in await list_customers(session, AGENT, "lucia")] == [mail_one]  # the merged one is hidden
        actions = list((await session.execute(select(AuditLog.action))).scalars())
        assert "customer.merge" in actions

    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=23))
    async with services.db.transaction() as session:
        await unmerge_customer(session, AGENT, mail_two, clock.now())
    assert await _snapshot(services, mail_one, mail_two) == before
    async with services.db.session() as session:
        assert "customer.unmerge" in list((await session.execute(select(AuditLog.action))).scalars())
        with pytest.raises(NotFound):
            await unmerge_customer(session, AGENT, mail_two, clock.now())


async def test_an_unmerge_after_a_day_is_refused(services: Services) -> None:
    one = await _customer(services, name="Sam", emails=["sam@example.com"])
    two = await _customer(services, name="Sam W", emails=["sam@work.example"])
    async with services.db.transaction() as session:
        await merge_customers(session, AGENT, one, two, services.clock.now())
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=24, minutes=1))
    async with services.db.transaction() as session:
        with pytest.raises(Conflict) as refused:
            await unmerge_customer(session, AGENT, two, clock.now())
        assert refused.value.message == "a merge can only be undone within 24 hours of it"
        with pytest.raises(Conflict):
            await update_customer(session, AGENT, two, {"name": "x"})
        with pytest.raises(InvalidInput):
            await merge_customers(session, AGENT, one, one, clock.now())


async def test_a_ticket_is_linked_to_a_customer_afterwards(services: Services) -> None:
    ana = await _customer(services, name="Ana", emails=["ana@example.es"])
    async with services.db.session() as session:
        accepted = await services.desk.accept(session, Contact("email", None, subject="Hola"), EntryKind.EMAIL_IN,
                                              {"subject": "Hola", "text": "?"})
        await services.desk.commit_and_publish(session)
    async with services.db.transaction() as session:
        ticket = await link_ticket(session, AGENT, accepted.ticket.id, ana)
        assert ticket.customer_id == ana
    async with services.db.session() as session:
        assert [t.id for t in (await customer_profile(session, AGENT, ana)).tickets] == [accepted.ticket.id]
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "ticket.customer"))).scalar_one()
        assert audit.after == {"customer_id": ana}


def _csv(rows: int, bad: dict[int, str]) -> str:
    lines = ["name,email,phone,tier,tags"]
    for i in range(rows):
        lines.append(bad.get(i, f"Cliente {i},cliente{i}@example.es,+3491{i:07d},standard,import"))
    return "\n".join(lines) + "\n"


async def test_the_import_reports_bad_rows_and_the_dry_run_writes_nothing(services: Services) -> None:
    known = await _customer(services, name="Known", emails=["cliente5@example.es"])
    text = _csv(1000, {
        3: "Mala,correo-sin-arroba,+34910000003,standard,",
        7: "Malo,bien7@example.es,12ab,standard,",
        9: "Tier,bien9@example.es,+34910000009,gold,",
        11: "Repetido,cliente10@example.es,,standard,",
    })
    async with services.db.session() as session:
        with pytest.raises(Forbidden):
            await plan_import(session, AGENT, text, "ES")  # a bulk change: not for every agent
        plan = await plan_import(session, SUPERVISOR, text, "ES")
        await session.rollback()
    assert plan.counts == {"new": 995, "updated": 1, "duplicates": 1, "errors": 3}
    assert [(e.row, e.field) for e in plan.errors] == [(5, "emails"), (9, "phones"), (11, "tier")]
    assert plan.duplicates[0].row == 13 and plan.duplicates[0].params == {"row": 12}
    async with services.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Customer))).scalar() == 1

    # the loop keeps turning while the thousand rows are read and written
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    async with services.db.transaction() as session:
        done = await import_customers(session, SUPERVISOR, text, "ES")
    took = time.monotonic() - started
    stop = True
    await task
    assert done.counts == plan.counts
    assert took < 15 and ticks > took * 20  # the loop was never held for long
    async with services.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Customer))).scalar() == 996
        updated = await session.get_one(Customer, known)
        assert updated.name == "Cliente 5" and [p.e164 for p in updated.phones] == ["+34910000005"]
        assert [c.name for c in await list_customers(session, AGENT, "+34910000999")] == ["Cliente 999"]
        indexed = await services.search.customers(session, AGENT, "+34 910 000 998")  # the search index has them
        assert [h.record["name"] for h in indexed.hits] == ["Cliente 998"]

    # a failure half way rolls everything back
    again = _csv(3, {}).replace("Cliente", "Otro").replace("example.es", "other.example").replace("+3491", "+3493")
    with pytest.raises(RuntimeError):
        async with services.db.transaction() as session:
            await import_customers(session, SUPERVISOR, again, "ES")
            raise RuntimeError("the server stopped")
    async with services.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Customer))).scalar() == 996
