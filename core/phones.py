"""Phone numbers in E.164, the one form caller-ID lookup and SMS both use."""

from __future__ import annotations

import phonenumbers

from core.errors import InvalidInput


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """Return E.164 for ``raw`` or raise ``InvalidInput`` with a plain reason.

    PBX caller IDs arrive as ``+8613800138000``, ``8613800138000`` (international
    without plus), ``02161234567`` (national) or ``00`` prefixed; each is tried.
    """
    text = (raw or "").strip()
    if not text or text.lower() in {"<unknown>", "anonymous", "unknown"}:
        raise InvalidInput("phone number is empty or withheld", {"value": raw})
    candidates = [text]
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("00") and digits:
        candidates.append("+" + digits[2:])
    if not text.startswith("+") and not text.startswith("0") and len(digits) > 10:
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidInput("not a phone number that can be dialled", {"value": raw})


def try_normalize_phone(raw: str, default_region: str = "US") -> str | None:
    try:
        return normalize_phone(raw, default_region)
    except InvalidInput:
        return None


def format_phone(e164: str) -> str:
    """International format for display (``+86 138 0013 8000``)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def national_digits(e164: str) -> str | None:
    """The number as dialled inside its country, digits only (``13800138000``), for search."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return str(parsed.national_number) if parsed.national_number else None
