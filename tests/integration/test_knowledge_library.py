"""Suggestions, rendering and usage through the real library on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config.services import Services
from core.auth import Actor
from core.errors import Forbidden, InvalidInput
from core.records import AuditLog, Channel, EntryKind, Role
from core.users import add_user
from knowledge import TemplateLibrary, reply_context
from knowledge.drafts import parse_template
from knowledge.records import ReplyTemplate, TemplateUse
from knowledge.templates import create_template, update_template
from routing.contact import Contact

OPS = Actor(None, "ops", frozenset({Role.OPS}))
AGENT = Actor(None, "agent", frozenset({Role.AGENT}))

REFUND = {
    "name": "Refund",
    "language": "en",
    "subject": "Re: your refund {{ ticket.tag }}",
    "body": "Dear {{ customer.name }},\nyour refund is on its way.\n{{ agent.name }}",
    "keywords": [{"phrase": "refund", "weight": 3}, {"phrase": "money back", "weight": 2}],
    "exclusions": ["invoice"],
}
TUIKUAN = {
    "name": "退款",
    "language": "zh",
    "subject": "关于您的退款 {{ ticket.tag }}",
    "body": "{{ customer.name }}您好，退款已处理。",
    "keywords": ["退款", {"退貨": 2}],
}
DELAY = {
    "name": "Retraso de entrega",
    "language": "es",
    "subject": "Su pedido",
    "body": "Hola {{ customer.name }}",
    "keywords": [{"phrase": "retraso", "weight": 2}, "pedido", "entrega"],
}


async def _add(services: Services, *drafts: dict) -> list[int]:
    async with services.db.transaction() as session:
        made = [await create_template(session, OPS, parse_template(d), services.renderer) for d in drafts]
        return [t.id for t in made]


async def test_mails_in_three_languages_get_the_right_template_with_the_words_that_matched(
    services: Services,
) -> None:
    refund, tuikuan, delay = await _add(services, REFUND, TUIKUAN, DELAY)
    library = services.templates
    async with services.db.session() as session:
        en = await library.suggest(session, "Refunds?", "I want my MONEY back for order 7.")
        zh = await library.suggest(session, "退貨問題", "請儘快退款，謝謝")
        es = await library.suggest(session, "Retraso", "Mi pedido no llegó, ¿qué pasa con la entrega?")
        vetoed = await library.suggest(session, "refund", "see the invoice attached")
    assert en[0].template_id == refund and set(en[0].matched) == {"refund", "money back"}
    assert zh[0].template_id == tuikuan and set(zh[0].matched) == {"退款", "退貨"}
    assert es[0].template_id == delay and set(es[0].matched) == {"retraso", "pedido", "entrega"}
    assert vetoed == []


async def test_language_keeps_templates_of_that_language(services: Services) -> None:
    await _add(services, REFUND, {**REFUND, "name": "Reembolso", "language": "es"})
    async with services.db.session() as session:
        found = await services.templates.suggest(session, "refund", "", language="es-ES")
    assert [s.name for s in found] == ["Reembolso"]


async def test_an_edit_reaches_the_matcher_after_invalidate(services: Services) -> None:
    (refund,) = await _add(services, REFUND)
    library = TemplateLibrary(recheck_seconds=3600)
    async with services.db.session() as session:
        assert await library.suggest(session, "", "where is my parcel") == []
    async with services.db.transaction() as session:
        await update_template(session, OPS, refund, parse_template({**REFUND, "keywords": ["parcel"]}), services.renderer)
    async with services.db.session() as session:
        assert await library.suggest(session, "", "where is my parcel") == []  # not looked yet
        library.invalidate()
        assert [s.template_id for s in await library.suggest(session, "", "where is my parcel")] == [refund]


async def test_a_fresh_library_sees_templates_changed_by_another_instance(services: Services) -> None:
    other_instance = TemplateLibrary(recheck_seconds=0)
    async with services.db.session() as session:
        assert await other_instance.suggest(session, "refund", "") == []
    await _add(services, REFUND)
    async with services.db.session() as session:
        assert len(await other_instance.suggest(session, "refund", "")) == 1


async def test_render_fills_customer_ticket_and_agent_and_usage_is_recorded(services: Services) -> None:
    (refund,) = await _add(services, REFUND)
    async with services.db.transaction() as session:
        agent = await add_user(session, "liwei", "secret-pass", "Li Wei", ["agent"])
        accepted = await services.desk.accept(
            session, Contact(channel=Channel.EMAIL, customer_id=None, subject="refund"),
            EntryKind.EMAIL_IN, {"subject": "refund"},
        )
        ticket = accepted.ticket
    async with services.db.session() as session:
        ticket = await services.desk.get(session, Actor.system(), ticket.id)
        context = reply_context(ticket=ticket, agent=agent)
        context["customer"] = {"name": "Ana <García>"}
        reply = await services.templates.render(session, refund, context)
    assert reply.subject == f"Re: your refund {ticket.tag}"
    assert reply.body == "Dear Ana <García>,\nyour refund is on its way.\nLi Wei"
    async with services.db.transaction() as session:
        await services.templates.record_use(session, refund, ticket.id, agent.id)
    async with services.db.session() as session:
        assert (await session.get(ReplyTemplate, refund)).usage_count == 1  # type: ignore[union-attr]
        assert await session.scalar(select(func.count()).select_from(TemplateUse)) == 1


async def test_html_templates_escape_what_customers_wrote(services: Services) -> None:
    (tid,) = await _add(services, {**REFUND, "html": True, "body": "<p>Dear {{ customer.name }}</p>"})
    async with services.db.session() as session:
        reply = await services.templates.render(session, tid, {"customer": {"name": "<script>x</script>"}})
    assert reply.body == "<p>Dear &lt;script&gt;x&lt;/script&gt;</p>"


@pytest.mark.parametrize(
    "body",
    [
        "{{ customer.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{% for x in range(10) %}",
        "{{ 'x' * 1000000000 }}",
        "{{ customer.name | nosuchfilter }}",
        "{{ 1 / 0 }}",
    ],
)
async def test_unsafe_or_broken_templates_are_refused_with_a_clear_error(services: Services, body: str) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(InvalidInput) as refused:
            await create_template(session, OPS, parse_template({**REFUND, "body": body}), services.renderer)
    assert "template" in refused.value.message


async def test_only_ops_edit_templates_and_every_change_is_audited(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(Forbidden):
            await create_template(session, AGENT, parse_template(REFUND), services.renderer)
    (tid,) = await _add(services, REFUND)
    async with services.db.session() as session:
        rows = list(await session.scalars(select(AuditLog).where(AuditLog.entity == "reply_template")))
    assert [(r.action, r.entity_id) for r in rows] == [("create", str(tid))]
