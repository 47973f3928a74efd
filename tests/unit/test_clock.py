"""The manual clock drives every SLA and outbox test, so its sleeps must not miss a move."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.clock import ManualClock, sleep_or_wake


async def test_a_loop_that_computed_its_deadline_wakes_when_the_clock_passed_it_before_it_slept() -> None:
    clock = ManualClock()
    until = clock.now() + timedelta(hours=17)
    sleeper = asyncio.ensure_future(sleep_or_wake(clock, asyncio.Event(), until, at_most=86400))
    clock.advance(timedelta(hours=18))  # the test moves time before the loop's sleep has begun
    await asyncio.wait_for(sleeper, 2.0)


async def test_a_sleep_waits_for_the_clock_and_a_wakeup_ends_it_early() -> None:
    clock = ManualClock()
    wakeup = asyncio.Event()
    sleeper = asyncio.ensure_future(sleep_or_wake(clock, wakeup, None, at_most=600))
    clock.advance(timedelta(minutes=9))
    await asyncio.sleep(0.01)
    assert not sleeper.done()
    wakeup.set()
    await asyncio.wait_for(sleeper, 2.0)
    sleeper = asyncio.ensure_future(clock.sleep(60))
    await asyncio.sleep(0.01)
    clock.advance(timedelta(seconds=61))
    await asyncio.wait_for(sleeper, 2.0)
