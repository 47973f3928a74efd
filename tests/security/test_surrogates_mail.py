"""Lone surrogates from mail: UTF-7 (and any codec) text that decodes into them is imported with
U+FFFD in their place — never quarantined for it, never stored with them, never a page that 500s.

The attack: ``+2AA-`` is UTF-7 for a lone U+D800. Python decodes it without complaint; the
database driver cannot encode it, so the message used to be refused as a whole.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest
from integration.mail.helpers import append, eventually
from sqlalchemy import select
from web_fixtures import WebSite

from channels.mime import ParsedMail, parse_message
from channels.records import MailAttachment, MailMessage, QuarantinedMail
from channels.settings import MailboxSettings
from config.settings import Settings
from core.records import Customer, EntryKind, TimelineEntry

LONE = "+2AA-"  # UTF-7 for U+D800
HELLO = "+T2BZfQ-"  # UTF-7 for 你好


def utf7_mail(message_id: str = "<utf7@example.cn>") -> bytes:
    name = base64.b64encode(f"Li {LONE}".encode()).decode()
    return (
        f"From: =?utf-7?b?{name}?= <li@example.cn>\r\n"
        "To: support@example.com\r\n"
        f"Subject: =?utf-7?q?Refund_{LONE}_{HELLO}?=\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n"
        f"{HELLO}, my order {LONE} never came.\r\n"
        "--b1\r\nContent-Type: text/html; charset=utf-7\r\n\r\n"
        f"<p>{HELLO} {LONE}</p>\r\n"
        "--b1\r\nContent-Type: text/plain; name*=utf-7''%2B2AA-.txt\r\n"
        "Content-Disposition: attachment; filename*=utf-7''invoice%2B2AA-.txt\r\n\r\n"
        "data\r\n--b1--\r\n"
    ).encode()


def lone_surrogates_in(value: object) -> list[str]:
    """Every text in ``value`` (a dataclass, list, dict, str) that holds a lone surrogate."""
    if isinstance(value, str):
        return [value] if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value) else []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in lone_surrogates_in(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in lone_surrogates_in(k) + lone_surrogates_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in lone_surrogates_in(v)]
    return []


@pytest.fixture
def settings(mail_settings: Settings) -> Settings:
    """The web site of this module reads the real Dovecot."""
    return mail_settings


def test_utf7_that_decodes_into_lone_surrogates_parses_with_replacement_characters() -> None:
    mail: ParsedMail = parse_message(utf7_mail())
    assert lone_surrogates_in(mail) == []
    assert mail.subject == "Refund \ufffd 你好"
    assert mail.sender == "li@example.cn" and mail.sender_name == "Li \ufffd"
    assert mail.text.startswith("你好, my order \ufffd never came.")
    assert [a.filename for a in mail.attachments] == ["invoice\ufffd.txt"]


async def test_utf7_mail_with_lone_surrogates_is_imported_not_quarantined_and_its_page_renders(
    site: WebSite, support: MailboxSettings
) -> None:
    await append(support, utf7_mail())

    async def imported() -> TimelineEntry | None:
        async with site.services.db.session() as session:
            held = (await session.execute(select(QuarantinedMail))).scalars().all()
            assert held == [], [q.error for q in held]
            return (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().first()

    entry = await eventually(imported)
    assert entry.payload["subject"] == "Refund \ufffd 你好"
    assert lone_surrogates_in(entry.payload) == []
    async with site.services.db.session() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
        message = (await session.execute(select(MailMessage).where(MailMessage.direction == "in"))).scalar_one()
        attachment = (await session.execute(select(MailAttachment))).scalar_one()
    assert customer.name == "Li \ufffd" and message.subject == "Refund \ufffd 你好"
    assert attachment.filename == "invoice\ufffd.txt"

    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{entry.ticket_id}")
    assert "Refund \ufffd 你好" in page and "你好, my order \ufffd never came." in page
    await agent.api("GET", f"/tickets/{entry.ticket_id}/timeline")
    await agent.api("GET", "/queue")
    download = await agent.http.get(f"/api/v1/entries/{entry.id}/attachments/0")
    assert download.status == 200 and "invoice%EF%BF%BD.txt" in download.headers["Content-Disposition"]
