"""The signature on every delivery, in the manner of Stripe's: ``t=<unix time>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed by the subscription's secret, over ``"<t>.<raw body>"``. The
receiver recomputes it over the bytes it received and the ``t`` it was given, compares in
constant time, and refuses a ``t`` too far from its own clock (a replayed old delivery).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Frontdesk-Signature"
EVENT_ID_HEADER = "Frontdesk-Event-Id"
EVENT_TYPE_HEADER = "Frontdesk-Event-Type"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """What a receiver does: True when one ``v1`` matches and ``t`` is recent."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
