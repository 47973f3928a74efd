"""A mail matching a rule with tags, an SLA policy and an acknowledgement template gets exactly those,
through the real ingest (IMAP, routing, SLA clock, render workers, outbox); a mail the rule does
not match gets the mailbox's own acknowledgement, no tags and the policy that matches it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from alerts.sla_clock import parse_time
from alerts.wiring import build_sla
from channels.plugin import EmailChannel
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.auth import Actor
from core.clock import as_utc
from core.records import OutboxMessage, Ticket, TicketTag
from core.users import add_user
from knowledge.drafts import TemplateDraft
from knowledge.templates import create_template
from mail.helpers import append, eventually
from routing import RulesPolicy
from routing.defaults import default_rules_data
from routing.records import RoutedContact
from routing.replay import replay_draft

REFUNDS = {
    "name": "Refunds",
    "groups": [{"mode": "all", "conditions": [{"field": "keywords", "op": "contains_any", "value": ["reembolso", "refund"]}]}],
    "actions": {"queue": "billing", "tags": ["Refund", "billing"], "sla_policy": "refunds-fast",
                "acknowledgement": "Refund received"},
}


async def test_a_rule_gives_its_mail_tags_sla_policy_and_acknowledgement_template(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    services = mail_services
    sla = build_sla(services)
    async with services.db.transaction() as session:
        ops = Actor.of(await add_user(session, "otto", "password1", "Otto Ops", ["ops"]))
        await sla.store.seed(session)
        # Matches no ticket by itself (voice only): only the rule can give it to a mail.
        await sla.store.save_policy(session, ops, {"name": "refunds-fast", "position": 5, "match": {"channel": ["voice"]},
                                                   "first_response_minutes": 30, "levels": [{"at": "+0", "channels": ["email"],
                                                                                             "recipients": ["assignee"]}]})
        for language, subject, body in (
            ("", "We got your refund request {{ ticket.tag }}", "Dear {{ customer.name }}, refunds take 5 days."),
            ("es", "Recibimos su solicitud de reembolso {{ ticket.tag }}", "Estimado/a {{ customer.name }}: el reembolso tarda 5 días."),
        ):
            await create_template(session, ops, TemplateDraft(name="Refund received", language=language, subject=subject, body=body),
                                  services.renderer)
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    async with services.db.transaction() as session:
        await policy.store.save(session, ops, [*default_rules_data(policy.settings), REFUNDS])
    async with services.db.session() as session:
        assert await policy.refresh(session)

    await append(support,
                 compose(sender="carla@example.es", sender_name="Carla", subject="Quiero un reembolso del pedido 42",
                         body="Hola, el producto llegó roto y quiero el reembolso, por favor.", message_id="<r1@example.es>"),
                 compose(sender="bo@example.com", subject="Question about my plan", body="Can I upgrade?",
                         message_id="<q1@example.com>"))
    channel.start(outbox=False)

    async def acknowledged() -> list[OutboxMessage] | None:
        async with services.db.session() as session:
            rows = list((await session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")
                                               .order_by(OutboxMessage.recipient))).all())
        return rows if len(rows) == 2 else None

    plan_ack, refund_ack = await eventually(acknowledged)
    async with services.db.session() as session:
        tickets = {t.subject: t for t in (await session.scalars(select(Ticket))).unique()}
        tags = {(row.ticket_id, row.tag) for row in await session.scalars(select(TicketTag))}
    refund, plan = tickets["Quiero un reembolso del pedido 42"], tickets["Question about my plan"]

    assert refund.queue == "billing"
    assert tags == {(refund.id, "billing"), (refund.id, "refund")}
    assert refund.sla_policy == "refunds-fast" and plan.sla_policy == "email"
    first_response = refund.sla_state["targets"]["first_response"]
    deadline = parse_time(first_response["deadline"])
    assert deadline - parse_time(first_response["start"]) == timedelta(minutes=30)  # the rule's policy's target, not the email one's
    assert refund.due_at is not None and as_utc(refund.due_at) == deadline  # the scanner reads due_at

    assert refund_ack.recipient == "carla@example.es" and refund_ack.payload["template"] == "Refund received"
    assert refund_ack.subject == f"[{refund.tag}] Recibimos su solicitud de reembolso {refund.tag}"
    assert "Estimado/a Carla: el reembolso tarda 5 días." in refund_ack.body  # the customer's language
    assert plan_ack.recipient == "bo@example.com" and "template" not in plan_ack.payload
    assert "reembolso" not in plan_ack.subject


async def test_rules_on_the_suggested_template_category_replay_as_production_routes(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    services = mail_services
    async with services.db.transaction() as session:
        ops = Actor.of(await add_user(session, "otto", "password1", "Otto Ops", ["ops"]))
        await create_template(session, ops, TemplateDraft(name="Invoice copy", category="billing", subject="Your invoice",
                                                          body="Attached.", keywords=[{"phrase": "invoice", "weight": 2}]),
                              services.renderer)
    services.templates.invalidate()
    await append(support, compose(sender="ana@example.com", subject="Need a copy of my invoice", message_id="<i1@example.com>"),
                 compose(sender="bo@example.com", subject="Hello there", message_id="<h1@example.com>"))
    channel.start(outbox=False)

    async def snapshots() -> list[RoutedContact] | None:
        async with services.db.session() as session:
            rows = list(await session.scalars(select(RoutedContact).order_by(RoutedContact.id)))
        return rows if len(rows) == 2 else None

    invoice, hello = await eventually(snapshots)
    assert invoice.contact["attributes"]["template"] == "Invoice copy"
    assert invoice.contact["attributes"]["template_category"] == "billing"
    assert "template" not in hello.contact["attributes"]

    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    by_category = {"name": "Billing mail", "groups": [{"conditions": [
        {"field": "template_category", "op": "in", "value": ["Billing"]}]}], "actions": {"queue": "billing"}}
    draft = policy.draft([*default_rules_data(policy.settings), by_category])
    replayed = await replay_draft(services.db, draft, policy.engine, 7, services.clock.now())
    assert (replayed.contacts, replayed.moved) == (2, 1)
    assert replayed.examples[0]["subject"] == "Need a copy of my invoice" and replayed.examples[0]["after"]["queue"] == "billing"

    async with services.db.transaction() as session:
        await policy.store.save(session, ops, [*default_rules_data(policy.settings), by_category])
    async with services.db.session() as session:
        await policy.refresh(session)
    await append(support, compose(sender="carla@example.es", subject="Invoice 12 please", message_id="<i2@example.es>"))

    async def routed() -> Ticket | None:
        async with services.db.session() as session:
            return (await session.scalars(select(Ticket).where(Ticket.subject == "Invoice 12 please"))).first()

    assert (await eventually(routed)).queue == "billing"  # production routes as the replay said
