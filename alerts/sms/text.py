"""SMS length: GSM-7 when every character fits the GSM alphabet, else UCS-2 (e.g. Chinese).

One GSM-7 message carries 160 septets (153 per part when concatenated; the extension
characters ``^{}\\[~]|€`` take two); one UCS-2 message carries 70 UTF-16 units (67 per
part). A text longer than the allowed parts is cut and ends with the link, so the
reader can always open the ticket.
"""

from __future__ import annotations

import dataclasses

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM_BASIC)
_EXTENDED = frozenset(GSM_EXTENDED)
ELLIPSIS = "…"


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXTENDED for c in text)


def _units(text: str, gsm: bool) -> int:
    if gsm:
        return sum(2 if c in _EXTENDED else 1 for c in text)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


@dataclasses.dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str  # "gsm7" | "ucs2"
    units: int
    segments: int


def measure(text: str) -> SmsLength:
    gsm = is_gsm7(text)
    units = _units(text, gsm)
    single, part = (160, 153) if gsm else (70, 67)
    segments = 1 if units <= single else -(-units // part)
    return SmsLength("gsm7" if gsm else "ucs2", units, segments)


def capacity(encoding: str, segments: int) -> int:
    single, part = (160, 153) if encoding == "gsm7" else (70, 67)
    return single if segments == 1 else part * segments


def fit(text: str, max_segments: int, link: str = "") -> str:
    """``text`` if it fits in ``max_segments`` parts, else cut so that "… link" still fits."""
    if measure(text).segments <= max_segments:
        return text
    body = text.replace(link, "").rstrip() if link else text
    mark = "..." if is_gsm7(body) else ELLIPSIS  # "…" is not in the GSM alphabet
    tail = f"{mark} {link}" if link else mark
    encoding = "gsm7" if is_gsm7(body + tail) else "ucs2"
    room = capacity(encoding, max_segments) - _units(tail, encoding == "gsm7")
    gsm = encoding == "gsm7"
    out, used = [], 0
    for c in body:
        size = _units(c, gsm)
        if used + size > room:
            break
        out.append(c)
        used += size
    return "".join(out).rstrip() + tail


def split(text: str) -> list[str]:
    """The parts a gateway without concatenation support would send, in order."""
    length = measure(text)
    if length.segments == 1:
        return [text]
    gsm = length.encoding == "gsm7"
    part = 153 if gsm else 67
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for c in text:
        size = _units(c, gsm)
        if used + size > part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += size
    parts.append("".join(current))
    return parts
