"""Sample customer mail as real MUAs write it: for the demo, the benchmark and the tests.

``compose`` writes the bytes by hand (not with ``email.message``) so it can produce
what real mailers send and our parser must survive: GBK text labelled GB2312,
RFC 2047 subjects, RFC 2231 filenames, Big5, Latin-1.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime


def encoded_word(text: str, charset: str, codec: str | None = None) -> str:
    data = text.encode(codec or charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def rfc2231(name: str, charset: str, codec: str | None = None) -> str:
    data = name.encode(codec or charset)
    return f"{charset}''" + "".join(f"%{b:02X}" for b in data)


@dataclasses.dataclass(slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    filename_style: str = "rfc2231"  # rfc2231 | rfc2047 | ascii


def compose(
    *,
    sender: str,
    to: str = "support@example.com",
    subject: str = "Hello",
    body: str = "Hello.",
    charset: str = "utf-8",
    codec: str | None = None,  # the codec really used, e.g. "gbk" behind a "gb2312" label
    sender_name: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    html: str | None = None,
    attachments: list[Attachment] | None = None,
    extra_headers: dict[str, str] | None = None,
    date: datetime | None = None,
) -> bytes:
    codec = codec or charset
    message_id = message_id or f"<{uuid.uuid4().hex}@mail.example.net>"
    headers = [
        ("From", f"{encoded_word(sender_name, charset, codec)} <{sender}>" if sender_name else sender),
        ("To", to),
        ("Subject", encoded_word(subject, charset, codec) if not subject.isascii() else subject),
        ("Date", format_datetime(date or datetime(2026, 11, 2, 9, 30, tzinfo=UTC))),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
    ]
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if references:
        headers.append(("References", " ".join(references)))
    for key, value in (extra_headers or {}).items():
        headers.append((key, value))
    text_part = _part(f"text/plain; charset={charset}", body.encode(codec))
    body_part = text_part
    if html is not None:
        html_part = _part(f"text/html; charset={charset}", html.encode(codec))
        body_part = _multipart("alternative", [text_part, html_part])
    if attachments:
        parts = [body_part]
        for att in attachments:
            parts.append(_attachment(att, charset, codec))
        body_part = _multipart("mixed", parts)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("ascii")
    return head + body_part


def _part(content_type: str, data: bytes, extra: str = "") -> bytes:
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n{extra}\r\n".encode("ascii")
        + encoded
    )


def _multipart(kind: str, parts: list[bytes]) -> bytes:
    boundary = f"=_{uuid.uuid4().hex}"
    out = [f'Content-Type: multipart/{kind}; boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode("ascii") + part + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def _attachment(att: Attachment, charset: str, codec: str) -> bytes:
    if att.filename.isascii() or att.filename_style == "ascii":
        disposition = f'attachment; filename="{att.filename}"'
        ctype = f'{att.content_type}; name="{att.filename}"'
    elif att.filename_style == "rfc2047":
        word = encoded_word(att.filename, charset, codec)
        disposition = f'attachment; filename="{word}"'
        ctype = f'{att.content_type}; name="{word}"'
    else:
        disposition = f"attachment; filename*={rfc2231(att.filename, charset, codec)}"
        ctype = att.content_type
    return _part(ctype, att.data, f"Content-Disposition: {disposition}\r\n")


# -- the demo's customers ----------------------------------------------------------
def demo_mails(to: str = "support@example.com") -> list[bytes]:
    """A Chinese (GBK labelled GB2312), an English and a Spanish customer mail."""
    return [
        compose(
            sender="wang.fang@example.cn",
            sender_name="王芳",
            to=to,
            subject="退款申请：订单还没有收到",
            body="您好，我上周的订单到现在还没有收到，请帮我查询物流，如果不能送达请退款。谢谢！",
            charset="gb2312",
            codec="gbk",
        ),
        compose(
            sender="john.smith@example.com",
            sender_name="John Smith",
            to=to,
            subject="Cannot log in to my account",
            body="Hi,\n\nI forgot my password and the reset link does not arrive. Can you help?\n\nJohn",
            html="<p>Hi,</p><p>I forgot my <b>password</b> and the reset link does not arrive.</p>",
        ),
        compose(
            sender="lucia.garcia@example.es",
            sender_name="Lucía García",
            to=to,
            subject="Factura incorrecta en mi pedido",
            body="Hola,\n\nLa factura de mi pedido tiene un importe incorrecto. ¿Pueden corregirla?\n\nGracias, Lucía",
            charset="iso-8859-1",
            attachments=[Attachment("factura_señal.pdf", "application/pdf", b"%PDF-1.4 demo\n")],
        ),
    ]
