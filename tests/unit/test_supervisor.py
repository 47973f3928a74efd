"""Stopping a supervised loop ends it, even when its body swallows a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from core import supervisor
from core.health import HealthRegistry
from core.supervisor import Backoff, SupervisedTask


async def test_stop_ends_a_body_that_swallowed_the_first_cancellation() -> None:
    swallowed = 0

    async def stubborn(task: SupervisedTask) -> None:
        nonlocal swallowed
        task.healthy()
        while True:  # like a reader whose wait_for ate the cancellation: back to waiting
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    health = HealthRegistry()
    task = SupervisedTask("stubborn", stubborn, health)
    task.start()
    await asyncio.sleep(0.01)
    await asyncio.wait_for(task.stop(recancel_after=0.05), 5)
    assert swallowed == 1
    assert health.get("stubborn") is None


async def test_a_loop_that_keeps_failing_degrades_readiness_and_recovering_clears_it() -> None:
    attempts = 0

    async def flaky(task: SupervisedTask) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise RuntimeError("policy book does not compile")
        task.healthy()
        await asyncio.sleep(3600)

    health = HealthRegistry()
    task = SupervisedTask("scanner", flaky, health, Backoff(0.01, 0.02), required=False, degrade_after=3)
    task.start()
    seen_degraded = recovered = False
    for _ in range(500):
        await asyncio.sleep(0.005)
        if attempts < 3:
            assert not health.degraded()  # one or two failures are not yet "keeps failing"
        seen_degraded = seen_degraded or health.degraded()
        component = health.get("scanner")
        if attempts > 3 and component is not None and component.ok:
            recovered = not health.degraded()
            break
    await task.stop()
    assert seen_degraded and recovered and health.ready()


async def test_a_loop_failing_on_an_unreachable_database_tries_again_soon_whatever_its_backoff(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A PostgreSQL restart: the loop resumes within seconds of the database coming back,
    not after a backoff grown to minutes, and the outage is logged once, not per retry."""
    monkeypatch.setattr(supervisor, "DATABASE_RETRY_MAX_S", 0.05)
    attempts = 0
    back = asyncio.Event()

    async def recorder(task: SupervisedTask) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 4:
            raise ConnectionRefusedError(111, "Connect call failed")
        task.healthy()
        back.set()
        await asyncio.sleep(3600)

    task = SupervisedTask("recorder", recorder, HealthRegistry(), Backoff(10.0, 300.0))
    task.start()
    try:
        await asyncio.wait_for(back.wait(), 5)  # without the cap: 10 + 20 + 40 + 80 s
    finally:
        await task.stop()
    assert attempts == 5
    assert len([r for r in caplog.records if r.levelname == "WARNING" and "recorder failed" in r.message]) == 1


async def test_other_failures_keep_their_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "DATABASE_RETRY_MAX_S", 0.05)
    attempts = 0

    async def buggy(_task: SupervisedTask) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug")

    task = SupervisedTask("buggy", buggy, HealthRegistry(), Backoff(10.0, 300.0))
    task.start()
    await asyncio.sleep(0.3)
    await task.stop()
    assert attempts == 1
