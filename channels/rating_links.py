"""Signed one-click rating links (``/help/rate/<ticket>/<good|bad>?expires=…&sig=…``).

A link names its ticket, its rating and its expiry, signed with the server's secret: nobody
can rate a ticket that is not theirs by changing a number, and nothing needs storing for it.
The rating itself counts once (``routing.ratings``), so a link used twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.errors import NotFound
from core.signing_key import SigningKey

LINK_DAYS = 14


class RatingLinks:
    def __init__(self, key: SigningKey) -> None:
        self._key = key

    @staticmethod
    def _message(ticket_id: int, rating: str, expires: int) -> str:
        return f"rating:{ticket_id}:{rating}:{expires}"

    def path(self, ticket_id: int, rating: str, now: datetime) -> str:
        expires = int((now + timedelta(days=LINK_DAYS)).timestamp())
        return f"/help/rate/{ticket_id}/{rating}?expires={expires}&sig={self._key.sign(self._message(ticket_id, rating, expires))}"

    def check(self, ticket_id: int, rating: str, expires: str, signature: str, now: datetime) -> None:
        """``NotFound`` unless the link is one we signed and it has not expired."""
        if not expires.isdigit() or not self._key.verify(self._message(ticket_id, rating, int(expires)), signature):
            raise NotFound("this rating link is unknown or expired")
        if int(expires) < now.timestamp():
            raise NotFound("this rating link is unknown or expired")
