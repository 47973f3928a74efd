"""Inbound SMS webhooks: verify who sent them, that they are fresh and not a replay, and
read the sender and the text.

Two signatures are accepted: ours, with ``sla.sms.inbound_secret``::

    X-Frontdesk-Timestamp: <unix seconds>
    X-Frontdesk-Nonce:     <8-100 characters, A-Z a-z 0-9 _ ->, new for every call
    X-Frontdesk-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<nonce>." + raw body>

refused when the timestamp is more than 5 minutes off or the nonce was seen; and Twilio's
``X-Twilio-Signature`` (base64 HMAC-SHA1 of the URL followed by the sorted form fields)
with the auth token, whose ``MessageSid`` is accepted once. A signed ``ACK`` captured on
the wire therefore acknowledges at most once, and never days later.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from core.errors import Conflict, InvalidInput, NotAuthenticated

MAX_SKEW = timedelta(minutes=5)
TWILIO_MEMORY = timedelta(hours=24)  # Twilio's signature has no time: remember its ids a day
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,100}$")

ACK = re.compile(r"^\s*ack\b\s*#?(\d+)?", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class InboundSms:
    sender: str
    text: str

    def ack_number(self) -> tuple[bool, int | None]:
        """("ACK", None) or ("ACK 1042", 1042); (False, None) for anything else."""
        m = ACK.match(self.text)
        if not m:
            return False, None
        return True, int(m.group(1)) if m.group(1) else None


def sign(secret: str, body: bytes, timestamp: int, nonce: str) -> str:
    signed = f"{timestamp}.{nonce}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: datetime, nonce: str | None = None) -> dict[str, str]:
    """The headers a gateway (or a test) sends with ``body``."""
    timestamp = int(now.timestamp())
    nonce = nonce or secrets.token_urlsafe(16)
    return {
        "X-Frontdesk-Timestamp": str(timestamp),
        "X-Frontdesk-Nonce": nonce,
        "X-Frontdesk-Signature": sign(secret, body, timestamp, nonce),
    }


class ReplayGuard:
    """Ids of webhook calls already accepted, each kept until it could no longer pass the
    freshness check; bounded (the oldest go first) so a flood cannot grow it without end."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._seen: collections.OrderedDict[str, datetime] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, key: str, keep_until: datetime, now: datetime) -> bool:
        """True (and remembered) the first time ``key`` is offered; False for a repeat."""
        for old in [k for k, until in self._seen.items() if until <= now][:1000]:
            del self._seen[old]
        if key in self._seen:
            return False
        self._seen[key] = keep_until
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True


def twilio_signature(token: str, url: str, params: Mapping[str, str]) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def parse_inbound(
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
    url: str,
    secret: str | None,
    twilio_token: str | None,
    now: datetime,
    replays: ReplayGuard,
) -> InboundSms:
    """Verify and read one webhook call; raise ``NotAuthenticated`` (unsigned, stale),
    ``Conflict`` (a replay) or ``InvalidInput``."""
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidInput("the body is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object")
        fields = {str(k): str(v) for k, v in data.items()}
    else:
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    ours = headers.get("X-Frontdesk-Signature", "")
    theirs = headers.get("X-Twilio-Signature", "")
    if secret and ours:
        key, keep_until = _verify_ours(body, headers, ours, secret, now)
    elif twilio_token and theirs:
        if not hmac.compare_digest(theirs, twilio_signature(twilio_token, url, fields)):
            raise NotAuthenticated("the inbound SMS is not signed with the shared secret")
        sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
        if not sid:
            raise InvalidInput("a Twilio webhook without MessageSid cannot be checked for replays")
        key, keep_until = f"twilio:{sid}", now + TWILIO_MEMORY
    else:
        raise NotAuthenticated("the inbound SMS is not signed with the shared secret")
    if not replays.first_time(key, keep_until, now):
        raise Conflict("this inbound SMS was already received (a replay is ignored)")
    sender = fields.get("from") or fields.get("From") or ""
    text = fields.get("text") or fields.get("Body") or fields.get("body") or ""
    if not sender:
        raise InvalidInput("the inbound SMS has no sender")
    return InboundSms(sender, text)


def _verify_ours(
    body: bytes, headers: Mapping[str, str], signature: str, secret: str, now: datetime
) -> tuple[str, datetime]:
    """Check our signature and its freshness; the replay key and how long to keep it."""
    stamp = headers.get("X-Frontdesk-Timestamp", "")
    nonce = headers.get("X-Frontdesk-Nonce", "")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise NotAuthenticated("the inbound SMS needs an X-Frontdesk-Timestamp (unix seconds)")
    if not _NONCE.match(nonce):
        raise NotAuthenticated("the inbound SMS needs an X-Frontdesk-Nonce (8-100 letters, digits, _ or -)")
    if not hmac.compare_digest(signature, sign(secret, body, int(stamp), nonce)):
        raise NotAuthenticated("the inbound SMS is not signed with the shared secret")
    offset = int(stamp) - now.timestamp()
    if abs(offset) > MAX_SKEW.total_seconds():
        raise NotAuthenticated("the inbound SMS is too old (or its clock is off by more than 5 minutes)")
    return f"ours:{nonce}", now + timedelta(seconds=offset) + MAX_SKEW
