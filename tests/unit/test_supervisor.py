"""Stopping a supervised loop ends it, even when its body swallows a cancellation."""

from __future__ import annotations

import asyncio

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
