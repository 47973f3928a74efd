"""Signed webhooks reach a real receiver on loopback: once per event, retried after errors
with growing waits, never to a disabled subscription, never twice with two workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from webhook_receiver import Receiver, serve_receiver

from config.services import Services
from core.auth import Actor
from core.clock import ManualClock
from core.customers import CustomerDraft, create_customer, update_customer
from core.errors import Conflict, InvalidInput
from core.records import OutboxMessage, OutboxStatus
from cti.events import CallRinging
from integrations import EVENT_ID_HEADER, SIGNATURE_HEADER, Webhooks, WebhookSettings, verify
from routing.ratings import rate_ticket

ADMIN = Actor.system()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as got:
        yield got


def _settings(**changes: Any) -> WebhookSettings:
    return WebhookSettings(**{"allow_private_targets": True, "retry_base_s": 10, "max_attempts": 3,
                              "timeout_s": 5, **changes})


@pytest.fixture
async def webhooks(services: Services) -> AsyncIterator[Webhooks]:
    parts = Webhooks(services, _settings())
    yield parts
    await parts.close()


async def _open_ticket(services: Services, subject: str = "Where is my order?") -> int:
    async with services.db.session() as session:
        accepted = await services.desk.open_ticket(session, ADMIN, subject)
        await services.desk.commit_and_publish(session)
    return accepted.ticket.id


async def _deliver_all(webhooks: Webhooks) -> None:
    await webhooks.customer_watch.settled()
    await webhooks.feed.drain()
    while await webhooks.worker.run_once():
        pass


async def test_a_ticket_event_arrives_signed_with_its_event_id(
        services: Services, webhooks: Webhooks, receiver: Receiver, clock: ManualClock) -> None:
    sub, secret = await webhooks.subscriptions.create(ADMIN, {"name": "CRM", "url": receiver.url,
                                                              "events": ["ticket.created", "ticket.solved"]})
    ticket_id = await _open_ticket(services)
    await _deliver_all(webhooks)

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    now = clock.now().timestamp()
    assert verify(secret, headers[SIGNATURE_HEADER], body, now)
    assert not verify(secret, headers[SIGNATURE_HEADER], body.replace(b"Where", b"When"), now)  # tampered
    assert not verify("whsec_someone-else", headers[SIGNATURE_HEADER], body, now)
    assert not verify(secret, headers[SIGNATURE_HEADER], body, now + 3600)  # replayed an hour later
    event = json.loads(body)
    assert event["type"] == "ticket.created"
    assert event["id"] == headers[EVENT_ID_HEADER]
    assert event["data"]["ticket"]["id"] == ticket_id
    assert event["data"]["ticket"]["subject"] == "Where is my order?"

    async with services.db.session() as session:
        await services.desk.set_status(session, ADMIN, ticket_id, "solved")
        await services.desk.commit_and_publish(session)
    await _deliver_all(webhooks)
    assert [b["type"] for b in receiver.bodies()] == ["ticket.created", "ticket.solved"]  # no ticket.updated

    [attempt, *_] = await webhooks.subscriptions.log(ADMIN, sub.id)
    assert (attempt.event_type, attempt.status_code, attempt.outcome, attempt.attempt) == ("ticket.solved", 200, "delivered", 1)


async def test_a_failing_receiver_is_retried_with_growing_waits_and_the_same_event_id(
        services: Services, webhooks: Webhooks, receiver: Receiver, clock: ManualClock) -> None:
    sub, _secret = await webhooks.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
    receiver.statuses = [500, 503]
    await _open_ticket(services)
    await webhooks.feed.drain()

    assert await webhooks.worker.run_once() == 1
    assert await webhooks.worker.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=10))
    assert await webhooks.worker.run_once() == 1
    clock.advance(timedelta(seconds=10))
    assert await webhooks.worker.run_once() == 0  # the second wait is twice the first
    clock.advance(timedelta(seconds=10))
    assert await webhooks.worker.run_once() == 1

    assert len(receiver.received) == 3
    assert len({headers[EVENT_ID_HEADER] for headers, _ in receiver.received}) == 1
    assert len({body for _, body in receiver.received}) == 1
    log = await webhooks.subscriptions.log(ADMIN, sub.id)
    assert [(a.attempt, a.status_code, a.outcome) for a in reversed(log)] == [
        (1, 500, "retrying"), (2, 503, "retrying"), (3, 200, "delivered")]
    assert log[-1].error == "HTTP 500"


async def test_after_the_last_attempt_the_delivery_is_given_up(
        services: Services, webhooks: Webhooks, receiver: Receiver, clock: ManualClock) -> None:
    sub, _secret = await webhooks.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
    receiver.statuses = [500] * 10
    await _open_ticket(services)
    await webhooks.feed.drain()
    for _ in range(5):
        await webhooks.worker.run_once()
        clock.advance(timedelta(seconds=100))
    assert len(receiver.received) == 3  # max_attempts
    log = await webhooks.subscriptions.log(ADMIN, sub.id)
    assert [a.outcome for a in reversed(log)] == ["retrying", "retrying", "failed"]
    async with services.db.session() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))).scalar_one()
    assert row.status == OutboxStatus.FAILED.value


async def test_a_disabled_subscription_gets_nothing(
        services: Services, webhooks: Webhooks, receiver: Receiver) -> None:
    on, _ = await webhooks.subscriptions.create(ADMIN, {"url": receiver.url + "?on", "events": ["ticket.created"]})
    off, _ = await webhooks.subscriptions.create(ADMIN, {"url": receiver.url + "?off", "events": ["ticket.created"],
                                                         "enabled": False})
    await _open_ticket(services)
    await _deliver_all(webhooks)
    assert len(receiver.received) == 1
    assert await webhooks.subscriptions.log(ADMIN, off.id) == []

    # Disabled after the event was queued: still nothing goes out, and the log says why.
    await _open_ticket(services, "Second question")
    await webhooks.feed.drain()
    await webhooks.subscriptions.update(ADMIN, on.id, {"enabled": False})
    await _deliver_all(webhooks)
    assert len(receiver.received) == 1
    attempt = (await webhooks.subscriptions.log(ADMIN, on.id))[0]
    assert attempt.outcome == "failed" and attempt.error == "the webhook is disabled"
    with pytest.raises(Conflict):
        await webhooks.send_test(ADMIN, on.id)


async def test_two_delivery_workers_send_each_event_exactly_once(
        services: Services, receiver: Receiver) -> None:
    first = Webhooks(services, _settings())
    second = Webhooks(services, _settings())  # another instance's worker on the same database
    try:
        await first.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
        for n in range(12):
            await _open_ticket(services, f"Question {n}")
        await first.feed.drain()
        await second.feed.drain()  # the second instance heard the same bus here: it must not double them
        first.worker.batch = second.worker.batch = 3

        async def work(parts: Webhooks) -> int:
            done = 0
            while sent := await parts.worker.run_once():
                done += sent
            return done

        counts = await asyncio.gather(work(first), work(second))
    finally:
        await first.close()
        await second.close()
    ids = [body["id"] for body in receiver.bodies()]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sum(counts) == 12


async def test_a_test_event_and_call_and_rating_events(
        services: Services, webhooks: Webhooks, receiver: Receiver) -> None:
    sub, secret = await webhooks.subscriptions.create(
        ADMIN, {"url": receiver.url, "events": ["call.started", "rating.created"]})
    event_id = await webhooks.send_test(ADMIN, sub.id)
    ringing = CallRinging("pbx1", "1700000000.1", "in", "+8613800138000", "Li Lei", "support", "PJSIP/1001", (1,))
    await services.bus.publish(ringing)
    await services.bus.publish(CallRinging(**{**ringing.__dict__, "interface": "PJSIP/1002"}))  # a second phone rings
    ticket_id = await _open_ticket(services)
    async with services.db.session() as session:
        await services.desk.set_status(session, ADMIN, ticket_id, "solved")
        await rate_ticket(services.desk, session, ticket_id, "good", "quick answer")
        await services.desk.commit_and_publish(session)
    await _deliver_all(webhooks)

    bodies = {b["type"]: b for b in receiver.bodies()}  # sent side by side: order is not promised
    assert len(receiver.received) == 3  # one call.started although two phones rang
    assert sorted(bodies) == ["call.started", "rating.created", "webhook.test"]
    assert bodies["webhook.test"]["id"] == event_id
    assert bodies["call.started"]["data"]["call"]["number"] == "+8613800138000"
    rating = bodies["rating.created"]["data"]["rating"]
    assert (rating["rating"], rating["comment"], rating["ticket_id"]) == ("good", "quick answer", ticket_id)
    assert all(verify(secret, h[SIGNATURE_HEADER], b, services.clock.now().timestamp()) for h, b in receiver.received)


async def test_a_loopback_target_is_refused_unless_allowed(services: Services, receiver: Receiver) -> None:
    strict = Webhooks(services, _settings(allow_private_targets=False))
    open_ = Webhooks(services, _settings())
    try:
        with pytest.raises(InvalidInput) as refused:
            await strict.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
        assert refused.value.details == {"field": "url"}
        # Saved where it was allowed, then sent by a strict instance: refused without a request.
        sub, _ = await open_.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
        await _open_ticket(services)
        await strict.feed.drain()
        await strict.worker.run_once()
    finally:
        await strict.close()
        await open_.close()
    assert receiver.received == []
    [attempt] = await strict.subscriptions.log(ADMIN, sub.id)
    assert attempt.outcome == "failed"


async def test_customer_events_follow_every_commit_and_none_after_a_rollback(
        services: Services, webhooks: Webhooks, receiver: Receiver) -> None:
    await webhooks.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["customer.created", "customer.updated"]})
    async with services.db.transaction() as session:
        customer = await create_customer(session, ADMIN, CustomerDraft(name="Li Lei", phones=["+8613800138000"]))
    await _deliver_all(webhooks)
    async with services.db.transaction() as session:
        await update_customer(session, ADMIN, customer.id, {"emails": ["li.lei@example.com"]})
    with pytest.raises(RuntimeError):
        async with services.db.transaction() as session:
            await create_customer(session, ADMIN, CustomerDraft(name="Never saved"))
            raise RuntimeError("the caller gives up")
    await _deliver_all(webhooks)

    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["customer.created", "customer.updated"]
    assert bodies[0]["data"]["customer"]["phones"] == ["+8613800138000"]
    assert bodies[1]["data"]["customer"]["emails"] == ["li.lei@example.com"]


async def test_a_slow_receiver_times_out_and_the_log_keeps_only_the_newest(
        services: Services, receiver: Receiver) -> None:
    impatient = Webhooks(services, _settings(timeout_s=0.2))
    keeping_ten = Webhooks(services, _settings(log_keep=10))
    try:
        sub, _ = await impatient.subscriptions.create(ADMIN, {"url": receiver.url, "events": ["ticket.created"]})
        receiver.delay_s = 1.0
        await impatient.send_test(ADMIN, sub.id)
        await impatient.worker.run_once()
        [timed_out] = await impatient.subscriptions.log(ADMIN, sub.id)
        assert (timed_out.status_code, timed_out.outcome) == (None, "retrying")
        assert timed_out.error == "no answer within 0.2 s"
        receiver.delay_s = 0
        keeping_ten.worker.concurrency = 1  # side by side, the newest trim may not see the others yet (keep + a batch)
        for _ in range(12):
            await keeping_ten.send_test(ADMIN, sub.id)
        while await keeping_ten.worker.run_once():
            pass
        log = await keeping_ten.subscriptions.log(ADMIN, sub.id)
    finally:
        await impatient.close()
        await keeping_ten.close()
    assert len(log) == 10 and all(a.outcome == "delivered" for a in log)
