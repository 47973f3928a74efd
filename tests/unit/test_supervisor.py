"""Stopping a supervised loop ends it, even when its body swallows a cancellation."""

from __future__ import annotations

import asyncio

from core.health import HealthRegistry
from core.supervisor import SupervisedTask


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
