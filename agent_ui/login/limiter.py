"""Login rate limiting: failed attempts per (client address, login) in a sliding minute.

A wider cap per address alone stops one client spraying many logins. Every instance counts
the failures of all: a failure or success is published (``LoginFailed``, ``LoginSucceeded``,
addressed to no browser) and each instance's limiter hears it from the bus, so a client sent
round the instances by a load balancer gets no more tries than against one.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import ClassVar

from aiohttp import web

from core.clock import Clock
from core.errors import TooManyRequests
from core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class LoginFailed(DomainEvent):
    name: ClassVar[str] = "login.failed"
    address: str
    login: str
    user_ids: tuple[int, ...] = ()  # to no browser


@dataclasses.dataclass(frozen=True)
class LoginSucceeded(DomainEvent):
    name: ClassVar[str] = "login.succeeded"
    address: str
    login: str
    user_ids: tuple[int, ...] = ()

WINDOW_SECONDS = 60.0
ADDRESS_FACTOR = 5  # an address may fail this many times the per-login limit, over all logins
MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, attempts_per_minute: int, clock: Clock) -> None:
        self.limit = attempts_per_minute
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, address: str, login: str) -> None:
        """Raise ``TooManyRequests`` when this client has failed too often in the last minute."""
        now = self._clock.now().timestamp()
        for key, limit in (((address, login.lower()), self.limit), ((address, "*"), self.limit * ADDRESS_FACTOR)):
            times = self._recent(key, now)
            if len(times) >= limit:
                retry_after = max(1, int(times[0] + WINDOW_SECONDS - now) + 1)
                raise TooManyRequests(
                    "too many failed logins; wait a minute and try again", {"retry_after": retry_after}
                )

    def failed(self, address: str, login: str) -> None:
        now = self._clock.now().timestamp()
        if len(self._failures) >= MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        for key in ((address, login.lower()), (address, "*")):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, login: str) -> None:
        self._failures.pop((address, login.lower()), None)

    async def on_event(self, event: DomainEvent) -> None:
        """Bus handler (every instance's logins): count what happened wherever it happened."""
        if isinstance(event, LoginFailed):
            self.failed(event.address, event.login)
        elif isinstance(event, LoginSucceeded):
            self.succeeded(event.address, event.login)


LOGIN_LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter", LoginLimiter)
