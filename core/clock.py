"""Time as a dependency, so SLA and call timing can be tested without sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once ``now() >= when``: loops that sleep until a deadline say so, so a clock
        that moves while they compute their wait cannot push the deadline further away."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - utcnow()).total_seconds()))


class ManualClock:
    """A clock that moves only when told; sleepers wake when their time is reached."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._changed = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._changed.set()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=seconds))

    async def sleep_until(self, when: datetime) -> None:
        while self._now < when:
            self._changed.clear()
            await self._changed.wait()


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; all stored times are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def sleep_or_wake(clock: Clock, wakeup: asyncio.Event, due: datetime | None, at_most: float) -> None:
    """Sleep by ``clock`` until ``due`` (the next work's time, if any) but at most ``at_most``
    seconds, or less when ``wakeup`` is set (e.g. new work arrived)."""
    now = clock.now()
    until = now + timedelta(seconds=at_most)
    if due is not None:
        until = min(until, due)
    if until <= now:
        return
    sleeper = asyncio.ensure_future(clock.sleep_until(until))
    waker = asyncio.ensure_future(wakeup.wait())
    try:
        await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for fut in (sleeper, waker):
            fut.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)
