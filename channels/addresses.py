"""Email addresses: read from raw headers without being fooled, and checked before we send to one.

Received headers are parsed *before* any RFC 2047 decoding, with the ``email`` package's
header registry (the RFC 5322 parser, not ``email.utils``, whose lenient ``parseaddr``
is CVE-2023-27043 on Python releases we still support). Every encoded word is first
swapped for a placeholder that cannot occur in a raw header (a private-use character:
raw headers are ASCII plus surrogate-escaped bytes), so decoded text can only ever be
a display name: ``=?utf-8?q?ceo=40victim.example?= <attacker@evil.example>`` is the
address ``attacker@evil.example`` named "ceo@victim.example", and an addr-spec that
contains a placeholder came out of an encoded word and is refused. Display names are
decoded afterwards with ``channels.charsets`` (GB2312 labels that mean GBK, raw 8-bit).

Outgoing recipients (replies, acknowledgements) must be exactly one plain addr-spec:
no comma lists, no display names, no line separators of any kind.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from email.errors import InvalidHeaderDefect
from email.headerregistry import AddressHeader
from typing import Any

from channels.charsets import decode_bytes, decode_header_value, without_lone_surrogates
from core.errors import InvalidInput

# Every separator ``str.splitlines`` splits on: any of them in a header value is an injection.
LINE_SEPARATORS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
MAX_ADDRESS_CHARS = 320
MAX_FROM_HEADER_CHARS = 2_000
# The RFC 5322 parser is quadratic on some input (~1 s for 8 000 backslashes), and small batches
# are parsed on the event loop: To and Cc beyond this many characters stay only in the raw mail.
MAX_RECIPIENT_CHARS = 4_000

_PLACEHOLDER = "\ue000"  # never in a raw header: the parser gives ASCII and surrogate escapes only
_PLACEHOLDERS = re.compile(_PLACEHOLDER + r"(\d+)" + _PLACEHOLDER)
_ENCODED_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_ENCODED_RUN = re.compile(_ENCODED_WORD + r"(?:[ \t]+" + _ENCODED_WORD + r")*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


class AddressProblem(ValueError):
    """A header whose addresses cannot be trusted; the message says why (shown to ops)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Mailbox:
    address: str  # lower-case plain addr-spec
    name: str  # decoded display name ("" when none)


def is_addr_spec(value: str) -> bool:
    """One plain ``local@domain`` (dot-atom local part, host-name domain), nothing around it."""
    return len(value) <= MAX_ADDRESS_CHARS and _ADDR_SPEC.fullmatch(value) is not None


def has_line_separator(value: str) -> bool:
    return any(ch in LINE_SEPARATORS for ch in value)


def refuse_line_separators(fields: dict[str, Any]) -> None:
    """Header injection guard for values that become headers; InvalidInput names the field."""
    for name, value in fields.items():
        if value is not None and has_line_separator(str(value)):
            raise InvalidInput("line breaks are not allowed in a mail header", {"field": name})


def recipient_address(value: str, field: str = "to") -> str:
    """``value`` as one addr-spec we may send to, or InvalidInput naming ``field``."""
    refuse_line_separators({field: value})
    address = value.strip()
    if not is_addr_spec(address):
        raise InvalidInput("give exactly one email address (name@example.com)", {"field": field})
    return address


def _hide_encoded_words(raw: str) -> tuple[str, list[str]]:
    """``raw`` unfolded, each run of encoded words replaced by a placeholder; their decoded texts."""
    decoded: list[str] = []

    def swap(match: re.Match[str]) -> str:
        decoded.append(decode_header_value(match.group(0)))
        return f"{_PLACEHOLDER}{len(decoded) - 1}{_PLACEHOLDER}"

    return _ENCODED_RUN.sub(swap, _FOLD.sub("", raw)), decoded


def _display_name(value: str | None, decoded: list[str]) -> str:
    """The display name in text: raw 8-bit decoded with our charsets, placeholders put back."""
    if not value:
        return ""
    out: list[str] = []
    for n, chunk in enumerate(_PLACEHOLDERS.split(value)):
        if n % 2:
            out.append(decoded[int(chunk)] if int(chunk) < len(decoded) else "")
        elif any(0xDC80 <= ord(ch) <= 0xDCFF for ch in chunk):  # raw 8-bit text, as the parser keeps it
            out.append(decode_bytes(chunk.encode("ascii", "surrogateescape"), None))
        else:
            out.append(chunk)
    name = "".join(" " if ch in LINE_SEPARATORS or ch < " " or ch == "\x7f" else ch for ch in "".join(out))
    return without_lone_surrogates(" ".join(name.split()))[:200]


def _token_types(token: Any) -> Iterator[str]:
    yield getattr(token, "token_type", "")
    if isinstance(token, list):
        for child in token:
            yield from _token_types(child)


def _encoded_word_in_address(token: Any) -> bool:
    """An encoded word the parser decoded inside the addr-spec (one our pattern did not hide,
    e.g. with whitespace inside it): the same trick, refused the same way."""
    if getattr(token, "token_type", "") == "addr-spec":
        return "encoded-word" in _token_types(token)
    return isinstance(token, list) and any(_encoded_word_in_address(child) for child in token)


def mailboxes(raw: str, header: str, skip_invalid: bool = False) -> list[Mailbox]:
    """The mailboxes of one raw address header; AddressProblem for a spoofing attempt or garbage.

    ``skip_invalid``: leave out entries that are not valid addresses instead of refusing the
    header; an address that came out of an encoded word is refused either way.
    """
    text, decoded = _hide_encoded_words(raw)
    try:
        tree = AddressHeader.value_parser(text)
    except RecursionError:  # comments nested thousands deep
        if skip_invalid:
            return []
        raise AddressProblem(f"{header}: not a valid address list (nested too deep)") from None
    invalid = [d for d in tree.all_defects if isinstance(d, InvalidHeaderDefect)]
    found: list[Mailbox] = []
    for entry in tree.addresses:
        for box in entry.all_mailboxes:
            if _PLACEHOLDER in f"{box.local_part}@{box.domain}" or _encoded_word_in_address(box):
                raise AddressProblem(f"{header}: the address is inside an encoded word (RFC 2047), which is not an address")
            if box.token_type != "mailbox" or invalid:
                if skip_invalid:
                    continue
                raise AddressProblem(f"{header}: not a valid address list ({invalid[0] if invalid else 'invalid mailbox'})")
            address = f"{box.local_part}@{box.domain}"
            if not is_addr_spec(address):
                if skip_invalid:
                    continue
                raise AddressProblem(f"{header}: {address!r} is not a plain email address")
            name = box.display_name or " ".join(box.comments)  # "wang@example.cn (Wang Fang)" names her too
            found.append(Mailbox(address.lower(), _display_name(name, decoded)))
    return found


def sender_of(raw_values: list[str]) -> Mailbox:
    """The one mailbox of the From header (its values as written); AddressProblem otherwise."""
    if not raw_values:
        raise AddressProblem("no sender address in From")
    if len(raw_values) > 1:
        raise AddressProblem(f"From: the message has {len(raw_values)} From headers")
    if len(raw_values[0]) > MAX_FROM_HEADER_CHARS:
        raise AddressProblem(f"From: the header is over {MAX_FROM_HEADER_CHARS} characters")
    found = mailboxes(raw_values[0], "From")
    if not found:
        raise AddressProblem("no sender address in From")
    if len(found) > 1:
        raise AddressProblem(f"From: {len(found)} addresses, a message has one sender")
    return found[0]


def recipients_of(raw_values: list[str], header: str) -> list[str]:
    """The addresses of every To (or Cc) header; AddressProblem if one came from an encoded word.

    Only stored with the ticket (never sent to), so entries that are not addresses are left out
    rather than refusing the mail; the raw message keeps them.
    """
    found: list[str] = []
    budget = MAX_RECIPIENT_CHARS
    for raw in raw_values:
        budget -= len(raw)
        if budget < 0:
            break
        found.extend(box.address for box in mailboxes(raw, header, skip_invalid=True))
    return found
