"""The console side of email: suggestions in the composer, sending a reply, downloads, the quarantine page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from web_fixtures import WebSite

from channels.plugin import EMAIL_CHANNEL
from channels.samples import Attachment, compose
from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.clock import Clock
from core.records import OutboxMessage, Ticket
from knowledge.suggestions import RenderedReply, Suggestion, TemplateLibrary


class RefundTemplates(TemplateLibrary):
    """A library with one template that matches refund mail (the real matcher is the knowledge package's)."""

    def __init__(self) -> None:
        self.used: list[tuple[int, int, int | None]] = []

    async def suggest(self, session: AsyncSession, subject: str, body: str, language: str | None = None, limit: int = 3) -> list[Suggestion]:
        return [Suggestion(7, "Refund on its way", 2.0, ("退款", "refund"))] if "退款" in subject + body else []

    async def render(self, session: AsyncSession, template_id: int, context: dict[str, Any]) -> RenderedReply:
        return RenderedReply(template_id, "Your refund", f"Dear {context['customer']['name']}, the refund for {context['ticket']['tag']} is on its way.")

    async def record_use(self, session: AsyncSession, template_id: int, ticket_id: int, agent_id: int | None) -> None:
        self.used.append((template_id, ticket_id, agent_id))


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A mailbox whose IMAP server is absent: this test feeds mail through ingest_raw.
    mailbox = {"name": "support", "address": "support@example.com", "host": "127.0.0.1", "port": 9,
               "security": "plain", "username": "x", "password": "x"}
    return load_settings(None, database_url=database_url, mailboxes=[mailbox])


@pytest.fixture
async def services(settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(settings, clock)
    svc.templates = RefundTemplates()
    yield svc
    await svc.db.close()


async def test_the_agent_sees_suggestions_picks_one_edits_and_sends(site: WebSite) -> None:
    channel = site.server.app[EMAIL_CHANNEL]  # type: ignore[index]
    raw = compose(sender="wang@example.cn", sender_name="王芳", subject="退款申请", body="请退款 <script>x</script>",
                  html="<p onclick='evil()'>请<b>退款</b></p><script>alert(1)</script>", charset="gb2312", codec="gbk",
                  attachments=[Attachment("发票.html", "text/html", b"<script>alert(1)</script>")])
    result = await channel.ingest_raw("support", raw)
    assert result.ticket_id is not None
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{result.ticket_id}")
    assert "Refund on its way" in page and "<mark>退款</mark>" in page
    assert "<b>退款</b>" in page and "alert(1)" not in page and "onclick" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page  # the text part is escaped, not rendered

    preview = await agent.api("POST", f"/api/v1/tickets/{result.ticket_id}/reply-preview", json={"template_id": 7})
    assert preview["subject"].startswith(f"[#{result.ticket_id + 1000}]")
    assert "王芳" in preview["body"]
    sent = await agent.api("POST", f"/api/v1/tickets/{result.ticket_id}/replies", status=201,
                           json={"subject": preview["subject"], "body": preview["body"] + "\nEdited.", "template_id": 7})
    assert sent["entry"]["kind"] == "email_out" and sent["entry"]["payload"]["text"].endswith("Edited.")
    await agent.api("POST", f"/api/v1/tickets/{result.ticket_id}/replies", status=400,
                    json={"subject": "x\r\nBcc: everyone@example.com", "body": "y"})
    assert site.services.templates.used == [(7, result.ticket_id, site.users["agent"].id)]  # type: ignore[attr-defined]
    async with site.services.db.session() as session:
        reply = (await session.execute(select(OutboxMessage).where(OutboxMessage.dedup_key.like("reply:%")))).scalar_one()
        ticket = await session.get(Ticket, result.ticket_id)
    assert reply.recipient == "wang@example.cn" and reply.headers["In-Reply-To"]
    assert ticket is not None and ticket.first_response_at is not None

    download = await agent.http.get(f"/api/v1/entries/{result.entry_id}/attachments/0")
    assert download.status == 200
    assert download.headers["Content-Type"].startswith("application/octet-stream")  # HTML is never served as HTML
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "UTF-8''%E5%8F%91%E7%A5%A8.html" in download.headers["Content-Disposition"]
    assert await download.read() == b"<script>alert(1)</script>"
    await agent.api("GET", f"/api/v1/entries/{result.entry_id}/attachments/5", status=404)


async def test_ops_see_and_retry_the_quarantine(site: WebSite) -> None:
    channel = site.server.app[EMAIL_CHANNEL]  # type: ignore[index]
    result = await channel.ingest_raw("support", b"Subject: no sender here\r\n\r\nbody")
    assert result.outcome == "quarantined"
    agent = await site.login("agent")
    await agent.api("GET", "/api/v1/mail/quarantine", status=403)
    ops = await site.login("ops")
    listed = await ops.api("GET", "/api/v1/mail/quarantine")
    assert [q["error"] for q in listed["quarantine"]] == ["no sender address in From"]
    page = await ops.api("GET", "/ops/quarantine")
    assert "no sender address in From" in page
    detail = await ops.api("GET", f"/ops/quarantine/{result.quarantine_id}")
    assert "Retry import" in detail and "no sender here" in detail
    retried = await ops.api("POST", f"/api/v1/mail/quarantine/{result.quarantine_id}/retry")
    assert retried["result"]["outcome"] == "quarantined"


async def test_readyz_shows_each_mailbox_link(site: WebSite) -> None:
    anon = await site.anonymous()
    ready = await anon.api("GET", "/readyz", status=503)  # this mailbox's IMAP server is absent
    assert ready["components"]["mailbox:support"]["ok"] is False
    assert "outbox:email" in ready["components"]
