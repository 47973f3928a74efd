"""Parsing mail as real mailers write it: Chinese charsets that lie, RFC 2047/2231, HTML, broken input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.charsets import decode_bytes, decode_header_value
from channels.imap import parse_fetch, uid_set
from channels.mime import MailTooLarge, UnparseableMail, parse_message
from channels.samples import Attachment, compose

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mail"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("data", "label", "text"),
    [
        ("镕基 碁 测试".encode("gbk"), "gb2312", "镕基 碁 测试"),  # GBK-only characters behind a GB2312 label
        ("𠀀 GB18030".encode("gb18030"), "GBK", "𠀀 GB18030"),
        ("關於發票".encode("big5"), "big5", "關於發票"),
        ("Café – “quotes”".encode("cp1252"), "iso-8859-1", "Café – “quotes”"),
        ("Żółć".encode("iso-8859-2"), "ISO-8859-2", "Żółć"),
        ("Привет".encode("cp1251"), "windows-1251", "Привет"),
        ("naïve".encode(), "us-ascii", "naïve"),
        ("你好".encode(), "x-unknown-charset", "你好"),
        ("你好".encode("gbk"), None, "你好"),
    ],
)
def test_text_decodes_whatever_the_label_claims(data: bytes, label: str | None, text: str) -> None:
    assert decode_bytes(data, label) == text


def test_headers_decode_rfc2047_and_raw_8bit() -> None:
    assert decode_header_value("=?gb2312?B?" + __import__("base64").b64encode("镕".encode("gbk")).decode() + "?=") == "镕"
    assert decode_header_value("Re: =?utf-8?Q?caf=C3=A9?=\r\n =?utf-8?Q?_cr=C3=A8me?=") == "Re: café crème"
    raw_gbk = "你好".encode("gbk").decode("ascii", "surrogateescape")
    assert decode_header_value(raw_gbk + " there") == "你好 there"
    assert decode_header_value("=?bogus?B?!!!?=") == "=?bogus?B?!!!?="


def test_a_mislabelled_gb2312_mail_with_a_gbk_filename() -> None:
    mail = parse_message(fixture("gb2312-mislabelled.eml"))
    assert mail.subject == "镕基退款申请"
    assert mail.text.strip() == "订单没有收到，请退款。镕"
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [("发票镕.pdf", "application/pdf", b"%PDF-1.4")]
    assert mail.sender == "wang@example.cn" and mail.sender_name == "王芳"


def test_big5_mail_with_an_rfc2047_filename() -> None:
    mail = parse_message(fixture("big5-rfc2047-filename.eml"))
    assert mail.subject == "關於發票的問題"
    assert mail.attachments[0].filename == "發票.txt"


def test_html_only_mail_gets_text_and_sanitized_html() -> None:
    mail = parse_message(fixture("html-only.eml"))
    assert "<script" not in (mail.html or "") and "onerror" not in (mail.html or "")
    assert "<b>bold</b>" in (mail.html or "")
    assert "Hello" in mail.text and "bold" in mail.text and "alert" not in mail.text


def test_threading_headers_and_loop_signals() -> None:
    raw = compose(sender="Robot@Example.com", subject="Auto", in_reply_to="<a@x>", references=["<root@x>", "<a@x>"],
                  extra_headers={"Auto-Submitted": "auto-replied; owner=x", "Precedence": "bulk"})
    mail = parse_message(raw)
    assert mail.sender == "robot@example.com"
    assert mail.thread_refs == ["<a@x>", "<root@x>"]
    assert mail.auto_signals == ["Auto-Submitted: auto-replied", "Precedence: bulk"]
    assert parse_message(compose(sender="a@b.c", extra_headers={"Auto-Submitted": "no"})).auto_signals == []


def test_unparseable_and_oversized_mail_say_why() -> None:
    with pytest.raises(UnparseableMail, match="no sender"):
        parse_message(b"Subject: hi\r\n\r\nno From header")
    with pytest.raises(UnparseableMail, match="empty"):
        parse_message(b"\r\n\r\n")
    with pytest.raises(MailTooLarge):
        parse_message(compose(sender="a@b.c", body="x" * 5000), max_bytes=2000)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_either_parse_or_are_refused_with_a_reason(data: bytes) -> None:
    try:
        mail = parse_message(b"From: a@b.c\r\n" + data)
    except UnparseableMail:
        return
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=60), st.sampled_from(["utf-8", "gb18030", "big5", "iso-8859-1"]))
def test_subjects_and_filenames_survive_the_round_trip(text: str, charset: str) -> None:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return
    clean = " ".join(text.split())
    if not clean or not all(ch.isprintable() for ch in clean):
        return
    raw = compose(sender="a@b.c", subject=clean, charset=charset, attachments=[Attachment(clean + ".bin", "application/octet-stream", b"x")])
    mail = parse_message(raw)
    assert " ".join(mail.subject.split()) == clean


def test_fetch_responses_and_uid_sets() -> None:
    lines = [b"1 FETCH (UID 7 BODY[] {5}", bytearray(b"hello"), b")", b"2 FETCH (BODY[] {3}", bytearray(b"abc"), b" UID 9)",
             b"Fetch completed."]
    assert [(m.uid, m.raw) for m in parse_fetch(lines)] == [(7, b"hello"), (9, b"abc")]
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"
