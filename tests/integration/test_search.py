"""Search as an agent uses it: one box over tickets (subject, mail, notes, calls) and customers,
folded like the template matcher, Chinese without spaces, filters, cursors; the same on SQLite
and PostgreSQL, and current in the transaction that writes."""

from __future__ import annotations

import pytest

from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer, update_customer
from core.errors import InvalidInput
from core.records import EntryKind
from routing import Contact, TicketFilter
from routing.search import SearchPage

AGENT = Actor(None, "agent", frozenset({"agent"}))  # type: ignore[arg-type]


async def _customer(services: Services, name: str, email: str, phone: str | None = None) -> int:
    async with services.db.transaction() as session:
        c = await create_customer(session, Actor.system(), CustomerDraft(
            name=name, emails=[email], phones=[phone] if phone else []))
        return c.id


async def _mail(services: Services, customer_id: int, subject: str, text: str, channel: str = "email") -> int:
    async with services.db.session() as session:
        accepted = await services.desk.accept(
            session, Contact(channel, customer_id, subject=subject), EntryKind.EMAIL_IN,
            {"subject": subject, "text": text, "from": "someone@example.com"})
        await services.desk.commit_and_publish(session)
        return accepted.ticket.id


async def _tickets(services: Services, q: str, flt: TicketFilter | None = None, **kw: object) -> SearchPage:
    async with services.db.session() as session:
        return await services.search.tickets(session, AGENT, q, flt or TicketFilter(status="all"), **kw)  # type: ignore[arg-type]


def _ids(page: SearchPage) -> list[int]:
    return [h.id for h in page.hits]


@pytest.fixture
async def corpus(services: Services) -> dict[str, int]:
    zhang = await _customer(services, "张伟", "zhang.wei@example.com", "+8613800138000")
    ana = await _customer(services, "Ana Núñez", "ana@example.es")
    return {
        "zhang": zhang, "ana": ana,
        "refund": await _mail(services, zhang, "Refund request for invoice INV-2031", "I was charged twice."),
        "zh": await _mail(services, zhang, "订单问题", "我要退款，谢谢。订单号 88231"),
        "es": await _mail(services, ana, "Devolución", "Quiero la DEVOLUCIÓN de mi pedido, por favor."),
        "wide": await _mail(services, ana, "Plan upgrade", "Can I get a ＲＥＦＵＮＤ if I downgrade later?"),
    }


async def test_words_are_found_in_subjects_and_bodies_folded_like_the_matcher(
    services: Services, corpus: dict[str, int]
) -> None:
    refund = await _tickets(services, "refund ")
    # Subject matches come first; the full-width ＲＥＦＵＮＤ in a body is found too.
    assert _ids(refund) == [corpus["refund"], corpus["wide"]]
    assert any(s.mark and s.text == "ＲＥＦＵＮＤ" for s in refund.hits[1].snippet)
    assert [s.text for s in refund.hits[0].title if s.mark] == ["Refund"]
    assert _ids(await _tickets(services, "devolucion")) == [corpus["es"]]  # accents fold
    assert _ids(await _tickets(services, "charged twice")) == [corpus["refund"]]
    assert _ids(await _tickets(services, "charged nothing")) == []  # every word must match
    assert _ids(await _tickets(services, "inv-2031")) == [corpus["refund"]]
    assert _ids(await _tickets(services, "refun")) == [corpus["refund"], corpus["wide"]]  # being typed


async def test_chinese_without_spaces_and_ticket_numbers(services: Services, corpus: dict[str, int]) -> None:
    page = await _tickets(services, "退款")
    assert _ids(page) == [corpus["zh"]]
    assert [s.text for s in page.hits[0].snippet if s.mark] == ["退款"]
    assert _ids(await _tickets(services, "退款 88231")) == [corpus["zh"]]
    assert _ids(await _tickets(services, "退")) == [corpus["zh"]]  # one character, as typed
    assert _ids(await _tickets(services, "訂單")) == [corpus["zh"]]  # traditional finds simplified
    number = page.hits[0].record["number"]
    assert _ids(await _tickets(services, str(number))) == [corpus["zh"]]


async def test_notes_and_later_changes_are_searchable_at_once(services: Services, corpus: dict[str, int]) -> None:
    async with services.db.transaction() as session:
        agent = Actor(None, "agent", frozenset({"agent"}))  # type: ignore[arg-type]
        await services.desk.add_note(session, agent, corpus["es"], "cliente pidió reembolso parcial")
    assert _ids(await _tickets(services, "reembolso parcial")) == [corpus["es"]]
    async with services.db.transaction() as session:
        ticket = await services.desk.get(session, AGENT, corpus["wide"])
        ticket.subject = "Downgrade question"
    found = await _tickets(services, "downgrade question")
    assert _ids(found) == [corpus["wide"]]
    assert "".join(s.text for s in found.hits[0].title) == "Downgrade question"


async def test_a_rolled_back_write_is_never_found(services: Services, corpus: dict[str, int]) -> None:
    with pytest.raises(RuntimeError):
        async with services.db.transaction() as session:
            await services.desk.add_note(session, AGENT, corpus["es"], "zanahoria secreta")
            raise RuntimeError("rolled back")
    assert _ids(await _tickets(services, "zanahoria")) == []


async def test_filters_and_cursor_paging(services: Services, corpus: dict[str, int]) -> None:
    ids = [await _mail(services, corpus["ana"], f"Factura {n}", "factura pendiente") for n in range(5)]
    first = await _tickets(services, "factura", limit=2)
    second = await _tickets(services, "factura", limit=2, cursor=first.next_cursor)
    third = await _tickets(services, "factura", limit=2, cursor=second.next_cursor)
    assert _ids(first) + _ids(second) + _ids(third) == list(reversed(ids)) and third.next_cursor is None
    only_zhang = await _tickets(services, "refund", TicketFilter(status="all", customer_id=corpus["zhang"]))
    assert _ids(only_zhang) == [corpus["refund"]]
    assert _ids(await _tickets(services, "refund", TicketFilter(status="closed"))) == []
    assert _ids(await _tickets(services, "refund", TicketFilter(status="all", channel="voice"))) == []
    with pytest.raises(InvalidInput):
        await _tickets(services, "factura", cursor="not-a-cursor")


async def test_customers_by_name_email_and_phone_in_any_format(services: Services, corpus: dict[str, int]) -> None:
    async def customers(q: str) -> list[int]:
        async with services.db.session() as session:
            return _ids(await services.search.customers(session, AGENT, q))

    assert await customers("张伟") == [corpus["zhang"]]
    assert await customers("nunez") == [corpus["ana"]]
    assert await customers("zhang.wei@example.com") == [corpus["zhang"]]
    assert await customers("+86 138-0013-8000") == [corpus["zhang"]]
    assert await customers("138 0013 8000") == [corpus["zhang"]]
    async with services.db.transaction() as session:
        await update_customer(session, Actor.system(), corpus["ana"], {"name": "Ana García"})
    assert await customers("garcia") == [corpus["ana"]] and await customers("nunez") == []
