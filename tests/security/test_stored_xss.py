"""Stored XSS through email: a customer's HTML body, subject, display name and attachment names
go through the real ingest (Dovecot) and every page an agent opens shows them as text — no
executable markup — and hostile attachments are downloaded, never rendered.
"""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest
from integration.mail.helpers import append, eventually
from sqlalchemy import select
from web_fixtures import WebSite

from channels.records import QuarantinedMail
from channels.settings import MailboxSettings
from config.settings import Settings
from core.records import EntryKind, TimelineEntry

SUBJECT = "<script>alert('subject')</script><img src=x onerror=alert('subject-img')>"
NAME = "<img src=x onerror=alert('name')>\"><svg onload=alert('name-svg')>"
FILENAME = "\"><img src=x onerror=alert('file')>.svg"
TEXT = "<script>alert('text')</script> and <a href=javascript:alert('text-link')>x</a>"
HTML_BODY = """<p>Hello <b>bold</b> customer</p>
<script>alert('body')</script>
<img src=x onerror="alert('img')">
<a href="javascript:alert('href')">js link</a>
<a href="JaVaScRiPt&colon;alert('entity')">entity link</a>
<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">data link</a>
<svg onload="alert('svg')"><script>alert('svg-script')</script></svg>
<iframe src="https://evil.example/"></iframe><object data="https://evil.example/x"></object><embed src="x.swf">
<form action="https://evil.example/"><button formaction="javascript:alert('form')">go</button></form>
<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')></style></mglyph></table></mtext></math>
<div style="background:url(javascript:alert('style'))">styled</div>
<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example/">
<noscript><p title="</noscript><img src=x onerror=alert('noscript')>"></noscript>
"""
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'svg-file\')"><script>alert(1)</script></svg>'
HTML_FILE = b"<html><body><script>alert('html-file')</script></body></html>"

FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcdoc"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "data:image/svg")


class ExecutableMarkup(HTMLParser):
    """Everything on a page that a browser could run, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self._in_data_block = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and values.get("type") == "application/json" and "src" not in values:
            self._in_data_block = True  # data for the page's scripts: never run, must not break out
        elif tag == "script":
            self._in_script = True
            if not values.get("src", "").startswith("/static/"):
                self.found.append(f"<script {values}>")
        if tag in FORBIDDEN_TAGS or (tag == "meta" and "http-equiv" in values):
            self.found.append(f"<{tag}>")
        for name, value in values.items():
            squashed = "".join(ch for ch in value.lower() if ch > " ")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and squashed.startswith(BAD_SCHEMES):
                self.found.append(f"<{tag} {name}={value}>")
            if name == "style" and ("javascript:" in squashed or "expression(" in squashed):
                self.found.append(f"<{tag} style={value}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = self._in_data_block = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline script: {data[:80]}")
        if self._in_data_block and "<" in data:  # a JSON block with markup could close the script
            self.found.append(f"markup in a data block: {data[:80]}")
        self.text.append(data)


def inspect(page: str) -> ExecutableMarkup:
    parser = ExecutableMarkup()
    parser.feed(page)
    parser.close()
    return parser


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def attachment(content_type: str, filename: str, data: bytes) -> str:
    return (
        f"--outer\r\nContent-Type: {content_type}\r\n"
        f"Content-Disposition: attachment; filename=\"{b_word(filename)}\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{base64.b64encode(data).decode()}\r\n"
    )


def hostile_mail(sender: str, to: str) -> bytes:
    return (
        f"From: {b_word(NAME)} <{sender}>\r\nTo: {to}\r\nSubject: {b_word(SUBJECT)}\r\n"
        "Message-ID: <xss@example.net>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        '--outer\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n'
        f"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{TEXT}\r\n"
        f"--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HTML_BODY}\r\n--inner--\r\n"
        + attachment("image/svg+xml", FILENAME, SVG)
        + attachment("text/html", "invoice.html", HTML_FILE)
        + attachment("application/xhtml+xml", "page.xhtml", HTML_FILE)
        + "--outer--\r\n"
    ).encode()


@pytest.fixture
def settings(mail_settings: Settings) -> Settings:
    """The web site of this module reads the real Dovecot."""
    return mail_settings


async def test_hostile_mail_is_shown_as_text_on_every_page_an_agent_opens(
    site: WebSite, support: MailboxSettings, customer_box: MailboxSettings
) -> None:
    await append(support, hostile_mail(customer_box.address, support.address))

    async def imported() -> TimelineEntry | None:
        async with site.services.db.session() as session:
            return (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().first()

    entry = await eventually(imported)
    agent = await site.login("agent")
    ticket = await agent.api("GET", f"/tickets/{entry.ticket_id}")
    timeline = await agent.api("GET", f"/tickets/{entry.ticket_id}/timeline")  # swapped in by console.js
    queue = await agent.api("GET", "/queue")
    table = await agent.api("GET", "/queue/table")  # swapped in by console.js
    for name, page in {"ticket": ticket, "timeline": timeline, "queue": queue, "queue table": table}.items():
        seen = inspect(page)
        assert seen.found == [], f"{name}: {seen.found}"
    shown = "".join(inspect(ticket).text)
    assert SUBJECT in shown and TEXT in shown and FILENAME in shown  # there, as text
    assert NAME in "".join(inspect(queue).text)
    assert "<b>bold</b>" in ticket  # the harmless formatting survives


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_svg_and_html_attachments_are_downloads_never_rendered(
    site: WebSite, support: MailboxSettings, customer_box: MailboxSettings, index: int
) -> None:
    await append(support, hostile_mail(customer_box.address, support.address))

    async def imported() -> TimelineEntry | None:
        async with site.services.db.session() as session:
            return (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().first()

    entry = await eventually(imported)
    agent = await site.login("agent")
    response = await agent.http.get(f"/api/v1/entries/{entry.id}/attachments/{index}")
    assert response.status == 200
    assert response.headers["Content-Type"].split(";")[0] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "\r" not in response.headers["Content-Disposition"] and "\n" not in response.headers["Content-Disposition"]
    assert await response.read() in (SVG, HTML_FILE)


async def test_a_quarantined_hostile_mail_is_shown_to_ops_as_text(site: WebSite, support: MailboxSettings) -> None:
    raw = (f"From: {b_word(NAME)}\r\nSubject: {b_word(SUBJECT)}\r\n\r\n{TEXT}\r\n").encode()
    await append(support, raw)

    async def held() -> QuarantinedMail | None:
        async with site.services.db.session() as session:
            return (await session.execute(select(QuarantinedMail))).scalars().first()

    row = await eventually(held)
    ops = await site.login("ops")
    for path in ("/ops/quarantine", f"/ops/quarantine/{row.id}"):
        seen = inspect(await ops.api("GET", path))
        assert seen.found == [], f"{path}: {seen.found}"


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=' JaVaScRiPt:alert(1)'>x</a>",
        "<iframe src=//evil.example></iframe>",
        "<div style='background:url(javascript:alert(1))'>x</div>",
        "<svg><a xlink:href='javascript:alert(1)'>x</a></svg>",
    ],
)
def test_the_inspection_sees_what_a_browser_would_run(markup: str) -> None:
    assert inspect(f"<p>{markup}</p>").found
    assert inspect('<script src="/static/console.js"></script><p>safe</p>').found == []
