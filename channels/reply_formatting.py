"""A reply's simple formatting: what the agent types becomes sanitised HTML and a plain-text twin.

The composer's toolbar writes a small, readable markup into a plain textarea, so the text is
still what the customer reads in a plain-text mail program:

- ``**bold**`` and ``*italic*`` (or ``_italic_``),
- lines starting ``- `` or ``* `` (a list) or ``1. `` (a numbered list),
- lines starting ``> `` (a quote),
- ``[words](https://example.com)`` (a link; http, https and mailto only).

The HTML is built from escaped text and then cleaned again with ``nh3`` (the sanitiser the
email channel already uses for received mail) against a short allow-list, so nothing the
browser sends, however it was crafted, reaches the customer as markup we did not make.
"""

from __future__ import annotations

import dataclasses
import html
import re

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li", "blockquote", "a"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()\"'<>]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)([^*_\n]+?)(?<=\S)[*_](?![\w*])")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")


@dataclasses.dataclass(frozen=True, slots=True)
class FormattedReply:
    text: str  # the plain-text alternative (and what the timeline shows)
    html: str  # sanitised


def _inline(escaped: str) -> str:
    """Bold, italic and links in one line of already escaped text."""
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(f'<a href="{match.group(2)}">{match.group(1)}</a>')
        return f"\x00{len(links) - 1}\x00"

    out = _LINK.sub(keep_link, escaped)  # links first: a URL may hold * or _
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: links[int(m.group(1))], out)


def _blocks(lines: list[str]) -> list[str]:
    parts: list[str] = []
    paragraph: list[str] = []
    listing: tuple[str, list[str]] | None = None
    quote: list[str] = []

    def flush() -> None:
        nonlocal listing
        if paragraph:
            parts.append("<p>" + "<br>".join(_inline(html.escape(line, quote=False)) for line in paragraph) + "</p>")
            paragraph.clear()
        if listing is not None:
            tag, items = listing
            parts.append(f"<{tag}>" + "".join(f"<li>{_inline(html.escape(i, quote=False))}</li>" for i in items) + f"</{tag}>")
            listing = None
        if quote:
            parts.append("<blockquote>" + "".join(_blocks(list(quote))) + "</blockquote>")
            quote.clear()

    for line in lines:
        quoted = _QUOTE.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if quoted:
            if not quote:
                flush()
            quote.append(quoted.group(1))
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            item = (bullet or numbered).group(1)  # type: ignore[union-attr]
            if listing is None or listing[0] != tag or paragraph or quote:
                flush()
                listing = (tag, [])
            listing[1].append(item)
        elif not line.strip():
            flush()
        else:
            if listing is not None or quote:
                flush()
            paragraph.append(line.strip())
    flush()
    return parts


def _plain(source: str) -> str:
    """The text as a plain-text reader should see it: links spelt out, emphasis markers gone."""
    lines = []
    for line in source.splitlines():
        line = _LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", line)
        line = _BOLD.sub(r"\1", line)
        line = _ITALIC.sub(r"\1", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip("\n")


def format_reply(source: str) -> FormattedReply:
    """The plain-text and HTML forms of what the agent wrote."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    body = "".join(_blocks(source.split("\n")))
    cleaned = nh3.clean(body, tags=set(ALLOWED_TAGS), attributes={"a": {"href"}}, url_schemes=set(ALLOWED_SCHEMES),
                        link_rel="noopener noreferrer")
    return FormattedReply(_plain(source), cleaned)


def as_email_html(fragment: str) -> str:
    """A sanitised fragment as a whole HTML document (mail programs expect one)."""
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
            f'<body style="font-family: sans-serif; font-size: 14px;">{fragment}</body></html>')
