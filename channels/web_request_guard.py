"""The spam guard of the public request form, with no third party: a honeypot field, a signed
time token and a rate limit per address and per client IP.

Bots fill every field (the honeypot is hidden from people), post at once (a person takes more
than a couple of seconds to write a request) or replay an old page (the token expires), and a
flood from one address or IP is cut off. The token is an HMAC of its issue time with the
server's secret, so nothing is stored for it; the rate limit is kept in this process's memory
(a restart forgets it, which only ever lets a few more requests through).
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import timedelta

from core.clock import Clock
from core.errors import FrontdeskError
from core.signing_key import SigningKey

# The name of the hidden field; a person never sees it, so any value means a robot.
HONEYPOT_FIELD = "website"


class RequestRefused(FrontdeskError):
    """The form was not accepted; ``reason`` says why, in words the page translates
    (``honeypot``, ``too-fast``, ``expired``, ``rate-limited``)."""

    status = 400
    error_id = "request-refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, {"reason": reason})
        self.reason = reason
        if reason == "rate-limited":
            self.status = 429


class RequestGuard:
    """Issues form tokens and decides whether a submitted form may become a request."""

    def __init__(
        self,
        key: SigningKey,
        clock: Clock,
        min_age: timedelta = timedelta(seconds=2),
        max_age: timedelta = timedelta(hours=4),
        per_address: int = 3,
        per_ip: int = 10,
        window: timedelta = timedelta(hours=1),
    ) -> None:
        self._key = key
        self._clock = clock
        self.min_age = min_age
        self.max_age = max_age
        self.per_address = per_address
        self.per_ip = per_ip
        self.window = window
        self._recent: dict[str, deque[float]] = defaultdict(deque)

    @staticmethod
    def _message(issued: str) -> str:
        return f"web-request:{issued}"

    def issue(self) -> str:
        """A token for a form shown now."""
        issued = str(int(self._clock.now().timestamp() * 1000))
        return f"{issued}.{self._key.sign(self._message(issued))}"

    def check(self, token: str, honeypot: str, address: str, ip: str) -> None:
        """Refuse a robot's or a flood's form; a form that passes counts towards the limits."""
        if honeypot.strip():
            raise RequestRefused("honeypot", "the form was filled in by a robot")
        issued, _, signature = token.partition(".")
        if not issued.isdigit() or not self._key.verify(self._message(issued), signature):
            raise RequestRefused("expired", "the form is not one this server showed: reload the page")
        now = self._clock.now().timestamp()
        age = now - int(issued) / 1000
        if age < self.min_age.total_seconds():
            raise RequestRefused("too-fast", "the form was sent too fast after it was shown")
        if age > self.max_age.total_seconds():
            raise RequestRefused("expired", "the form is too old: reload the page")
        self.admit(address, ip)

    def admit(self, address: str, ip: str, scope: str = "request") -> None:
        """Count one more from this address and IP within ``scope``, or refuse a flood (the
        sign-in form uses its own scope, so asking for links does not use up requests)."""
        now = self._clock.now().timestamp()
        keys = [(f"{scope}:address:{address.strip().lower()}", self.per_address), (f"{scope}:ip:{ip}", self.per_ip)]
        for key, limit in keys:
            recent = self._recent[key]
            while recent and recent[0] <= now - self.window.total_seconds():
                recent.popleft()
            if len(recent) >= limit:
                raise RequestRefused("rate-limited", "too many requests from this address: try again later")
        for key, _ in keys:
            self._recent[key].append(now)
