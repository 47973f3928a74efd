"""Inbound SMS webhooks: verify who sent them, read the sender and the text.

Two signatures are accepted: ours, ``X-Frontdesk-Signature: sha256=<hex HMAC-SHA256 of
the raw body>`` with ``sla.sms.inbound_secret``; and Twilio's ``X-Twilio-Signature``
(base64 HMAC-SHA1 of the URL followed by the sorted form fields) with the auth token.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from core.errors import InvalidInput, NotAuthenticated

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


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
) -> InboundSms:
    """Verify and read one webhook call; raise ``NotAuthenticated`` or ``InvalidInput``."""
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
    ok = False
    if secret and ours:
        ok = hmac.compare_digest(ours, sign(secret, body))
    elif twilio_token and theirs:
        ok = hmac.compare_digest(theirs, twilio_signature(twilio_token, url, fields))
    if not ok:
        raise NotAuthenticated("the inbound SMS is not signed with the shared secret")
    sender = fields.get("from") or fields.get("From") or ""
    text = fields.get("text") or fields.get("Body") or fields.get("body") or ""
    if not sender:
        raise InvalidInput("the inbound SMS has no sender")
    return InboundSms(sender, text)
