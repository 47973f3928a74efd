"""Sender spoofing: a customer must not be able to file mail, or draw an acknowledgement, as somebody else.

The attack: put the victim's address in an RFC 2047 encoded word (``=?utf-8?q?ceo=40victim?=``),
which a parser that decodes before it parses reads as an address. Addresses come from the raw
header; an encoded word is only ever a display name.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from integration.mail.helpers import append, eventually
from sqlalchemy import select

from channels.mime import ParsedMail, UnparseableMail, parse_message
from channels.plugin import EmailChannel
from channels.records import QuarantinedMail
from channels.settings import MailboxSettings
from channels.sink import MailSink
from config.services import Services
from core.records import CustomerEmail, OutboxMessage

VICTIM = "ceo@bigcustomer.example"


def q_word(text: str) -> str:
    """``text`` as a Q-encoded word, every byte escaped (as an attacker's mailer would write it)."""
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in text.encode()) + "?="


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def mail_from(from_header: str, to: str = "support@example.com", subject: str = "Please call me") -> bytes:
    return (
        f"From: {from_header}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{abs(hash(from_header + to))}@evil.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWire the money today.\r\n"
    ).encode()


async def customer_addresses(services: Services) -> set[str]:
    async with services.db.session() as session:
        return set((await session.execute(select(CustomerEmail.address))).scalars())


async def outbox_recipients(services: Services) -> list[str]:
    async with services.db.session() as session:
        return list((await session.execute(select(OutboxMessage.recipient))).scalars())


async def test_an_encoded_word_display_name_does_not_file_the_mail_under_the_victim_nor_acknowledge_them(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings, customer_box: MailboxSettings, sink: MailSink
) -> None:
    attacker = customer_box.address  # the attacker reads their own mailbox: the acknowledgement must land there
    await append(support, mail_from(f"{q_word(VICTIM)} <{attacker}>"))
    channel.start()

    async def acknowledged() -> bool:
        return bool(sink.messages)

    await eventually(acknowledged)
    assert await customer_addresses(mail_services) == {attacker.lower()}
    assert [m.recipients for m in sink.messages] == [[attacker]]
    assert VICTIM not in await outbox_recipients(mail_services)


@pytest.mark.parametrize(
    "from_header",
    [
        q_word(VICTIM),  # the whole address is an encoded word
        b_word(VICTIM),
        f"{q_word('ceo')}@bigcustomer.example",  # the local part is an encoded word
        f"<{q_word(VICTIM)}>",
        f'"{q_word("ceo")}"@bigcustomer.example',
        f"{q_word(VICTIM + ', ')} {q_word('other@x.example')}",
        "=?utf-8?q?ceo ?=@bigcustomer.example",  # whitespace inside the word: the stdlib still decodes it
        "<=?utf-8?q?ceo ?=@bigcustomer.example>",
    ],
)
async def test_an_address_that_only_exists_inside_an_encoded_word_is_quarantined(
    channel: EmailChannel, mail_services: Services, from_header: str
) -> None:
    result = await channel.ingest_raw("support", mail_from(from_header))
    assert result.outcome == "quarantined"
    async with mail_services.db.session() as session:
        row = await session.get(QuarantinedMail, result.quarantine_id)
    assert row is not None and row.error.startswith("From:")
    assert VICTIM not in await customer_addresses(mail_services)
    assert await outbox_recipients(mail_services) == []


@pytest.mark.parametrize(
    ("from_header", "reason"),
    [
        (f"attacker@evil.example, {VICTIM}", "2 addresses"),
        (f"{VICTIM} <attacker@evil.example>", "not a valid address list"),  # an unquoted address as a "name"
        (f"{VICTIM})<attacker@evil.example>", "not a valid address list"),  # CVE-2023-27043's shape
        (f"attacker@evil.example (x) <{VICTIM}>", "not a valid address list"),
        ("Undisclosed recipients:;", "no sender address"),
        (f"group: attacker@evil.example, {VICTIM};", "2 addresses"),
    ],
)
async def test_a_from_without_exactly_one_sender_is_quarantined_with_the_reason(
    channel: EmailChannel, mail_services: Services, from_header: str, reason: str
) -> None:
    result = await channel.ingest_raw("support", mail_from(from_header))
    assert result.outcome == "quarantined"
    async with mail_services.db.session() as session:
        row = await session.get(QuarantinedMail, result.quarantine_id)
    assert row is not None and reason in row.error
    assert await outbox_recipients(mail_services) == []


async def test_two_from_headers_are_refused(channel: EmailChannel, mail_services: Services) -> None:
    raw = mail_from("attacker@evil.example").replace(b"From:", f"From: {VICTIM}\r\nFrom:".encode(), 1)
    result = await channel.ingest_raw("support", raw)
    assert result.outcome == "quarantined"
    assert await customer_addresses(mail_services) == set()


def test_an_encoded_word_in_to_or_cc_is_a_name_never_an_address() -> None:
    mail = parse_message(mail_from("a@b.example", to=f"{q_word('support@example.com')} <attacker@evil.example>"))
    assert mail.to == ["attacker@evil.example"]
    raw = mail_from("a@b.example").replace(b"Subject:", f"Cc: {q_word(VICTIM)}\r\nSubject:".encode())
    with pytest.raises(UnparseableMail, match=r"Cc: (the address is inside an encoded word|not a valid address list)"):
        parse_message(raw)


def test_a_to_entry_that_is_not_an_address_is_left_out_and_the_mail_still_imported() -> None:
    mail = parse_message(mail_from("a@b.example", to="support, Undisclosed:;, \"Desk\" <desk@example.com>"))
    assert mail.to == []  # the header as a whole is not a valid list: nothing from it is trusted
    mail = parse_message(mail_from("a@b.example", to="Support <support@example.com>, desk@example.com (Desk)"))
    assert mail.to == ["support@example.com", "desk@example.com"]


def test_quoted_names_comments_and_chinese_display_names_still_work() -> None:
    assert parse_message(mail_from(f'"{VICTIM}" <attacker@evil.example>')).sender == "attacker@evil.example"
    mail = parse_message(mail_from("J. Doe <J.Doe@Example.COM> (home)"))
    assert (mail.sender, mail.sender_name) == ("j.doe@example.com", "J. Doe")
    mail = parse_message(mail_from(f"wang@example.cn ({b_word('王芳')})"))
    assert (mail.sender, mail.sender_name) == ("wang@example.cn", "王芳")
    gbk = "=?gb2312?B?" + base64.b64encode("王芳镕".encode("gbk")).decode() + "?="  # GBK behind a GB2312 label
    mail = parse_message(mail_from(f"{gbk} <wang@example.cn>"))
    assert (mail.sender, mail.sender_name) == ("wang@example.cn", "王芳镕")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_whatever_an_encoded_display_name_says_the_sender_is_the_address_outside_it(name: str) -> None:
    for word in (q_word(name), b_word(name)):
        mail = parse_message(mail_from(f"{word} <attacker@evil.example>"))
        assert mail.sender == "attacker@evil.example"
        assert "\n" not in mail.sender_name and "\r" not in mail.sender_name


@settings(max_examples=150, deadline=None)
@given(st.emails())
def test_an_address_written_only_as_an_encoded_word_never_becomes_the_sender(address: str) -> None:
    for word in (q_word(address), b_word(address), f"<{q_word(address)}>"):
        try:
            mail: ParsedMail | None = parse_message(mail_from(word))
        except UnparseableMail:
            mail = None
        assert mail is None
