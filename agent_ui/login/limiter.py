"""Login rate limiting: failed attempts per (client address, login) in a sliding minute.

A wider cap per address alone stops one client spraying many logins.
"""

from __future__ import annotations

from collections import deque

from aiohttp import web

from core.clock import Clock
from core.errors import TooManyRequests

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


LOGIN_LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter", LoginLimiter)
