"""Contact details partly hidden from the roles the policy masks: ``+86 138 **** 8000``,
``j***@example.com``. Enough for an agent to recognise a caller or tell two addresses apart,
not enough to copy them out. Dialling never needs the full number on the masked person's
screen: the console dials a customer's phone by its id and the server looks the number up.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import phonenumbers

from core.events import DomainEvent

_DIGIT = re.compile(r"\d")
# Keys of a pop, call panel or customer document whose value is a phone number or an address.
PHONE_KEYS = frozenset({"number", "e164", "caller", "phone", "number_display"})
EMAIL_KEYS = frozenset({"email", "address", "from", "to"})
LIST_KEYS = {"phones": "phone", "emails": "email"}
# Values that carry the number inside a link: dropped.
DROPPED_KEYS = frozenset({"crm_url"})


def mask_phone(number: str) -> str:
    """``+8613800138000`` → ``+86 138 **** 8000``; a number we cannot read keeps its last two digits."""
    if not number:
        return number
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number.lstrip("0"), None)
        national = str(parsed.national_number)
        code = f"+{parsed.country_code}"
    except phonenumbers.NumberParseException:
        digits = "".join(_DIGIT.findall(number))
        return "**** " + digits[-2:] if len(digits) > 2 else "****"
    if len(national) > 7:
        return f"{code} {national[:3]} **** {national[-4:]}"
    return f"{code} **** {national[-2:]}"


def mask_email(address: str) -> str:
    """``john.doe@example.com`` → ``j***@example.com``."""
    local, at, domain = address.partition("@")
    if not at:
        return mask_phone(address) if _DIGIT.search(address) else address
    return f"{local[:1]}***@{domain}"


def _looks_like_phone(value: str) -> bool:
    return len(_DIGIT.findall(value)) >= 5 and "@" not in value


def mask_value(key: str, value: Any) -> Any:
    """Mask one field of a document by its key, nested documents and lists included."""
    if key in DROPPED_KEYS:
        return None
    if isinstance(value, dict):
        return mask_document(value)
    if isinstance(value, list):
        item_key = LIST_KEYS.get(key, key)
        return [mask_value(item_key, v) for v in value]
    if not isinstance(value, str):
        return value
    if "@" in value and (key in EMAIL_KEYS or key in LIST_KEYS.values()):
        return mask_email(value)
    if key in PHONE_KEYS or key == "phone":
        return mask_phone(value) if _looks_like_phone(value) else value
    return value


def mask_document(document: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_value(str(k), v) for k, v in document.items()}


def mask_event(event: DomainEvent) -> DomainEvent:
    """The same event with its documents' numbers and addresses masked (a screen-pop, a call panel)."""
    if not dataclasses.is_dataclass(event):
        return event
    changes = {f.name: mask_document(getattr(event, f.name)) for f in dataclasses.fields(event)
               if isinstance(getattr(event, f.name), dict)}
    return dataclasses.replace(event, **changes) if changes else event
