"""Parsing one raw email into what a ticket needs: a pure function over bytes.

Uses the standard library parser (``policy.compat32``) for structure and transfer
encodings, and ``channels.charsets`` for every byte-to-text step, so mislabelled
Chinese mail (GB2312 that is really GBK, Big5, raw 8-bit headers) reads correctly.
HTML is kept only after sanitizing with ``nh3``. Addresses come from the raw headers
through ``channels.addresses`` (never from decoded text, so an encoded word cannot forge
a sender). No text leaves here with lone surrogates. Anything that cannot become a
ticket raises ``UnparseableMail`` with a reason, and the caller quarantines it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html as html_lib
import re
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

import nh3

from channels.addresses import LINE_SEPARATORS, AddressProblem, recipients_of, sender_of
from channels.charsets import decode_bytes, decode_header_value, without_lone_surrogates


class UnparseableMail(Exception):
    """The message cannot be imported as it is; the reason is shown to ops (and stored, so made storable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(without_lone_surrogates(reason).replace("\x00", ""))


class MailTooLarge(UnparseableMail):
    pass


@dataclasses.dataclass(slots=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclasses.dataclass(slots=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: str  # lower-case address
    sender_name: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    text: str
    html: str | None  # sanitized
    attachments: list[ParsedAttachment]
    auto_signals: list[str]  # why this looks automatic (no acknowledgement then)
    x_loop: list[str]
    content_hash: str
    size: int

    @property
    def thread_refs(self) -> list[str]:
        """Message-IDs this mail answers, nearest first."""
        refs = list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))
        return [r for r in refs if r != self.message_id]


_MSGID = re.compile(r"<([^<>\s]+)>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_HASHED_HEADERS = ("from", "to", "cc", "date", "subject", "message-id")
# compat32: headers stay the strings they were, parsed only where we ask (addresses through
# the strict registry in ``channels.addresses``). ``policy.default`` parses every Content-Type
# as the feed arrives and raises on text it decoded itself (an RFC 2231 UTF-7 parameter holding
# a lone surrogate), which would refuse a whole message for one odd parameter.
_PARSER = BytesParser(policy=policy.compat32)


def normalize_message_id(value: str) -> str | None:
    match = _MSGID.search(value or "")
    if match:
        return f"<{match.group(1)}>"
    text = (value or "").strip()
    return f"<{text}>" if text and " " not in text and len(text) < 490 else None


def message_ids(value: str | None) -> list[str]:
    return [f"<{m}>" for m in _MSGID.findall(value or "")][:50]


def raw_header(part: Message, name: str) -> str | None:
    """The header as written (the parser keeps 8-bit bytes as surrogate escapes)."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def raw_headers(part: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [str(v) for k, v in part.raw_items() if k.lower() == wanted]


def header_text(part: Message, name: str) -> str:
    raw = raw_header(part, name)
    return decode_header_value(raw) if raw is not None else ""


def content_hash(raw: bytes) -> str:
    """The second dedup key: the headers a copy keeps plus the body, not the trace headers."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    digest = hashlib.sha256()
    current: bytes | None = None
    kept: list[bytes] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                kept.append(line.strip())
            continue
        current = None
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        if name in _HASHED_HEADERS:
            current = line
            kept.append(line.strip())
    digest.update(b"\n".join(sorted(kept)))
    digest.update(b"\n\n")
    digest.update(body.replace(b"\r\n", b"\n"))
    return digest.hexdigest()


def html_to_text(html: str) -> str:
    text = nh3.clean(re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", "\n", html), tags=set())
    text = html_lib.unescape(text)
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def sanitize_html(html: str) -> str:
    return nh3.clean(html, url_schemes={"http", "https", "mailto", "cid"})


def _param(part: Message, header: str, name: str) -> str | None:
    """A header parameter (RFC 2231 or RFC 2047 or raw 8-bit), decoded with our charsets."""
    raw = raw_header(part, header)
    if raw is None:
        return None
    holder = Message()  # compat32 keeps RFC 2231 values as (charset, language, latin-1 text)
    holder[header] = raw
    value: Any = holder.get_param(name, header=header)
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _language, text = value
        data = str(text).encode("latin-1", "surrogateescape")
        return decode_bytes(data, charset or None).strip()
    return decode_header_value(str(value).strip('"'))


def _payload_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    return decode_bytes(data, part.get_content_charset())


def _filename(part: Message) -> str | None:
    return _param(part, "Content-Disposition", "filename") or _param(part, "Content-Type", "name")


class _Walk:
    def __init__(self) -> None:
        self.text: str | None = None
        self.html: str | None = None
        self.attachments: list[ParsedAttachment] = []

    def visit(self, part: Message) -> None:
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner and isinstance(inner[0], Message) else b""
            name = _filename(part) or "message.eml"
            self.attachments.append(ParsedAttachment(name, ctype, data))
            return
        if part.is_multipart():
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    self.visit(sub)
            return
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not (
            filename and disposition == "inline" and ctype != "text/plain"
        )
        if is_body and ctype == "text/plain" and self.text is None:
            self.text = _payload_text(part)
            return
        if is_body and ctype == "text/html" and self.html is None:
            self.html = _payload_text(part)
            return
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if not filename and ctype.startswith("text/") and disposition != "attachment":
            return  # a second text alternative (e.g. text/enriched): the first one is kept
        content_id = normalize_message_id(raw_header(part, "Content-ID") or "") if raw_header(part, "Content-ID") else None
        self.attachments.append(ParsedAttachment(safe_filename(filename or _default_name(ctype)), ctype, data, content_id))


def _default_name(ctype: str) -> str:
    return "attachment." + (ctype.split("/", 1)[1] if "/" in ctype else "bin")


def safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f" and ch not in LINE_SEPARATORS).strip().strip(".")
    return (name or "attachment")[:300]


def _auto_signals(msg: Message, sender: str) -> list[str]:
    signals: list[str] = []
    auto = header_text(msg, "Auto-Submitted").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        signals.append(f"Auto-Submitted: {auto}")
    precedence = header_text(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        signals.append(f"Precedence: {precedence}")
    if raw_header(msg, "X-Auto-Response-Suppress") is not None:
        signals.append("X-Auto-Response-Suppress")
    if raw_header(msg, "List-Id") is not None:
        signals.append("List-Id")
    local = sender.split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster") or local.startswith("mailer-daemon"):
        signals.append(f"sender {local}")
    if (raw_header(msg, "Return-Path") or "").strip() == "<>":
        signals.append("empty Return-Path (a bounce)")
    return signals


def _date(msg: Message) -> datetime | None:
    raw = raw_header(msg, "Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(decode_header_value(raw))
    except (TypeError, ValueError, IndexError):
        return None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return without_lone_surrogates(value).replace("\x00", "")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _without_lone_surrogates(mail: ParsedMail) -> ParsedMail:
    """Every text of ``mail`` storable: raw 8-bit bytes in odd places (a Message-ID, a content
    type) reach here as surrogate escapes, which no database can encode; PostgreSQL refuses NUL."""
    for field in dataclasses.fields(mail):
        setattr(mail, field.name, _clean(getattr(mail, field.name)))
    for attachment in mail.attachments:
        attachment.filename = _clean(attachment.filename)
        attachment.content_type = _clean(attachment.content_type)
        attachment.content_id = _clean(attachment.content_id)
    return mail


def parse_message(raw: bytes, max_bytes: int | None = None) -> ParsedMail:
    """Parse ``raw`` or raise ``UnparseableMail`` saying why it cannot become a ticket."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise MailTooLarge(f"message is {len(raw)} bytes, over the {max_bytes}-byte limit")
    if not raw.strip():
        raise UnparseableMail("empty message")
    try:
        msg = _PARSER.parsebytes(raw)
        try:
            sender = sender_of(raw_headers(msg, "From") or raw_headers(msg, "Sender"))
            to = recipients_of(raw_headers(msg, "To"), "To")
            cc = recipients_of(raw_headers(msg, "Cc"), "Cc")
        except AddressProblem as exc:
            raise UnparseableMail(str(exc)) from exc
        address = sender.address
        walk = _Walk()
        walk.visit(msg)
        html = sanitize_html(walk.html) if walk.html is not None else None
        text = walk.text if walk.text is not None else (html_to_text(walk.html) if walk.html else "")
        text = text.replace("\r\n", "\n").replace("\x00", "")
        message_id = normalize_message_id(raw_header(msg, "Message-ID") or "")
        return _without_lone_surrogates(ParsedMail(
            message_id=message_id,
            in_reply_to=message_ids(raw_header(msg, "In-Reply-To")),
            references=message_ids(" ".join(raw_headers(msg, "References"))),
            subject=header_text(msg, "Subject")[:500],
            sender=address,
            sender_name=sender.name,
            to=to,
            cc=cc,
            date=_date(msg),
            text=text,
            html=html,
            attachments=walk.attachments,
            auto_signals=_auto_signals(msg, address),
            x_loop=[decode_header_value(v).strip().lower() for v in raw_headers(msg, "X-Loop")],
            content_hash=content_hash(raw),
            size=len(raw),
        ))
    except UnparseableMail:
        raise
    except Exception as exc:  # the stdlib parser is lenient; whatever still breaks is quarantined
        raise UnparseableMail(f"cannot parse: {type(exc).__name__}: {exc}") from exc
