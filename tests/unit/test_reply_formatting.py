"""The composer's simple formatting: readable markup in, sanitised HTML and plain text out;
and Cc/Bcc lists split and checked field by field."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from channels.reply_formatting import format_reply
from channels.reply_recipients import MAX_COPIES, check_recipients
from core.errors import InvalidInput


def test_markup_becomes_html_and_a_plain_text_twin() -> None:
    formatted = format_reply("Hi **Ana**, *thanks*!\n\n- one\n- two\n1. first\n> quoted\n\nSee [help](https://x.example/a_b).")
    assert formatted.html == (
        "<p>Hi <strong>Ana</strong>, <em>thanks</em>!</p><ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>"
        '<blockquote><p>quoted</p></blockquote><p>See <a href="https://x.example/a_b" rel="noopener noreferrer">help</a>.</p>')
    assert formatted.text == "Hi Ana, thanks!\n\n- one\n- two\n1. first\n> quoted\n\nSee help <https://x.example/a_b>."


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
    '[x](https://a.example/"onmouseover="alert(1))', "<a href='javascript:alert(1)'>x</a>", "**<b onclick=1>x</b>**",
])
def test_nothing_the_agent_types_becomes_markup_we_did_not_make(hostile: str) -> None:
    tags = _Tags()
    tags.feed(format_reply(hostile).html)
    assert {tag for tag, _ in tags.seen} <= {"p", "br", "strong", "em", "a"}
    for _tag, attrs in tags.seen:
        assert {name for name, _ in attrs} <= {"href", "rel"}
        assert all((value or "").startswith(("https://", "noopener")) for name, value in attrs)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


def test_recipients_are_split_lowered_deduplicated_and_checked_per_field() -> None:
    checked = check_recipients("Ana@Example.com", ["b@example.com; C@example.com", "b@example.com"], "ana@example.com d@example.com")
    assert checked.to == "Ana@Example.com"
    assert checked.cc == ("b@example.com", "c@example.com") and checked.bcc == ("d@example.com",)
    with pytest.raises(InvalidInput) as one_to:
        check_recipients("a@example.com, b@example.com")
    assert one_to.value.details == {"field": "to"}
    with pytest.raises(InvalidInput) as refused:
        check_recipients("a@example.com", "Boss <boss@example.com>", "x@")
    assert [(e["field"], e["value"]) for e in refused.value.details["errors"]] == [
        ("cc", "Boss"), ("cc", "<boss@example.com>"), ("bcc", "x@")]
    with pytest.raises(InvalidInput) as injected:
        check_recipients(None, None, ["ok@example.com\u2028Bcc: x@evil.example"])
    assert injected.value.details == {"field": "bcc"}
    with pytest.raises(InvalidInput) as crowd:
        check_recipients(None, [f"p{n}@example.com" for n in range(MAX_COPIES + 1)])
    assert crowd.value.details["field"] == "cc"
