"""The outbox delivers each message once, retries temporary failures, and reports permanent ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.outbox import OutboxWorker, PermanentFailure, TemporaryFailure
from config.services import Services
from core.clock import ManualClock
from core.records import OutboxMessage, OutboxStatus


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def _queue(services: Services, *recipients: str) -> None:
    async with services.db.transaction() as session:
        for r in recipients:
            session.add(OutboxMessage(channel="sms", recipient=r, body="hi", next_attempt_at=services.clock.now()))


async def _rows(services: Services) -> dict[str, OutboxMessage]:
    async with services.db.session() as session:
        return {m.recipient: m for m in (await session.execute(select(OutboxMessage))).scalars()}


async def test_retry_then_success_and_permanent_failure_falls_back(services: Services, clock: ManualClock) -> None:
    calls: list[str] = []
    failures = {"+15550001": 2}  # fails twice, then goes through

    async def deliver(message: OutboxMessage) -> None:
        calls.append(message.recipient)
        if message.recipient == "+15550002":
            raise PermanentFailure("number not in service")
        if failures.get(message.recipient, 0) > 0:
            failures[message.recipient] -= 1
            raise TemporaryFailure("gateway busy")

    fell_back: list[int] = []

    async def on_failed(session: AsyncSession, message: OutboxMessage) -> None:
        fell_back.append(message.id)
        session.add(OutboxMessage(channel="email", recipient="boss@example.com", body=message.body))

    worker = OutboxWorker(services.db, "sms", deliver, clock, retry_base=10, on_failed=on_failed)
    await _queue(services, "+15550001", "+15550002")

    assert await worker.run_once() == 2
    assert await worker.run_once() == 0  # the retry is not due yet
    clock.advance(timedelta(seconds=10))
    assert await worker.run_once() == 1
    clock.advance(timedelta(seconds=20))
    assert await worker.run_once() == 1

    rows = await _rows(services)
    assert rows["+15550001"].status == OutboxStatus.SENT.value
    assert rows["+15550001"].attempts == 3
    assert rows["+15550002"].status == OutboxStatus.FAILED.value
    assert "not in service" in (rows["+15550002"].last_error or "")
    assert fell_back == [rows["+15550002"].id]
    assert rows["boss@example.com"].channel == "email"
    assert calls.count("+15550002") == 1


async def test_a_claimed_message_is_not_delivered_twice_while_its_lease_runs(services: Services, clock: ManualClock) -> None:
    delivered: list[str] = []

    async def deliver(message: OutboxMessage) -> None:
        delivered.append(message.recipient)

    first = OutboxWorker(services.db, "sms", deliver, clock)
    second = OutboxWorker(services.db, "sms", deliver, clock)
    await _queue(services, "+15550003")
    claimed = await first._claim()  # an instance claims, then dies before delivering
    assert len(claimed) == 1
    assert await second.run_once() == 0
    clock.advance(timedelta(seconds=first.lease + 1))
    assert await second.run_once() == 1
    assert delivered == ["+15550003"]


async def test_a_slow_delivery_overtaken_after_its_lease_is_recorded_once(services: Services, clock: ManualClock) -> None:
    """Instance A's delivery outlives its lease; B claims the row again and records it. A's
    late result must not count a second time (no second 'delivered' note, no attempts lost)."""
    recorded: list[int] = []

    async def on_sent(_session: AsyncSession, message: OutboxMessage) -> None:
        recorded.append(message.attempts)

    second = OutboxWorker(services.db, "sms", lambda _m: _noop(), clock, lease=60, on_sent=on_sent)

    async def slow(_message: OutboxMessage) -> None:
        clock.advance(timedelta(seconds=61))  # A's lease runs out while it delivers
        assert await second.run_once() == 1  # B claims it again and records its own result

    first = OutboxWorker(services.db, "sms", slow, clock, lease=60, on_sent=on_sent)
    await _queue(services, "+15550009")
    assert await first.run_once() == 1
    assert recorded == [2], "only the latest claim's result is recorded"
    row = (await _rows(services))["+15550009"]
    assert row.status == OutboxStatus.SENT.value and row.attempts == 2


async def _noop() -> None:
    return None
