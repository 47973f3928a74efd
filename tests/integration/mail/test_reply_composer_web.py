"""The reply composer over HTTP: a multipart reply with files (larger than the app's body limit,
refused past the attachment cap), field errors, the draft endpoints, template search, articles
with their public links, the sent files downloadable and listed on the timeline, the form
without JavaScript."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from web_fixtures import WebSite

from channels.plugin import EMAIL_CHANNEL
from channels.samples import compose
from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.auth import Actor
from core.clock import Clock
from core.records import OutboxMessage, User
from knowledge.articles import create_article
from knowledge.drafts import ArticleDraft, TemplateDraft
from knowledge.templates import create_template

CAP = 3_000_000  # over the web's 1 MB body limit: replies with files are read part by part


@pytest.fixture
def settings(database_url: str) -> Settings:
    mailbox = {"name": "support", "address": "support@example.com", "host": "127.0.0.1", "port": 9,
               "security": "plain", "username": "x", "password": "x"}
    return load_settings(None, database_url=database_url, mailboxes=[mailbox],
                         smtp={"host": "127.0.0.1", "port": 9, "max_attachment_bytes": CAP},
                         web={"base_url": "https://support.example.com", "cookie_secure": False})


@pytest.fixture
async def services(settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(settings, clock)
    yield svc
    await svc.renderer.close()
    await svc.db.close()


async def _ticket(site: WebSite, subject: str = "Invoice", body: str = "please send my invoice") -> int:
    channel = site.server.app[EMAIL_CHANNEL]  # type: ignore[index]
    result = await channel.ingest_raw("support", compose(sender="ana@example.com", subject=subject, body=body))
    assert result.ticket_id is not None
    return int(result.ticket_id)


def _form(fields: dict[str, str], files: list[tuple[str, str, bytes]] = ()) -> aiohttp.FormData:  # type: ignore[assignment]
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for filename, content_type, data in files:
        form.add_field("attachments", io.BytesIO(data), filename=filename, content_type=content_type)
    return form


async def test_a_multipart_reply_with_files_is_sent_listed_and_downloadable(site: WebSite) -> None:
    ticket_id = await _ticket(site)
    agent = await site.login("agent")
    big = bytes(range(256)) * 6_000  # 1.5 MB: more than the app's body limit, less than the cap
    sent = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/replies", status=201, data=_form(
        {"subject": "Re: Invoice", "body": "Here it is, **attached**.", "cc": "boss@example.com; accounts@example.com",
         "bcc": "audit@example.com", "format": "markdown"},
        [("invoice.pdf", "application/pdf", big), ("", "application/octet-stream", b"")]))  # an empty file input
    payload = sent["entry"]["payload"]
    assert payload["cc"] == ["boss@example.com", "accounts@example.com"] and payload["bcc"] == ["audit@example.com"]
    assert payload["text"] == "Here it is, attached." and "<strong>attached</strong>" in payload["html"]
    assert payload["attachments"] == [{"index": 0, "filename": "invoice.pdf", "content_type": "application/pdf", "size": len(big)}]
    response = await agent.http.get(f"/api/v1/entries/{sent['entry']['id']}/attachments/0")
    assert response.status == 200 and await response.read() == big
    async with site.services.db.session() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.id == sent["outbox_id"]))).scalar_one()
    assert row.headers["Cc"] == "boss@example.com, accounts@example.com" and row.payload["bcc"] == ["audit@example.com"]
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    assert "boss@example.com, accounts@example.com" in page and "audit@example.com" in page
    assert f"/api/v1/entries/{sent['entry']['id']}/attachments/0" in page and "<strong>attached</strong>" in page


async def test_oversized_files_and_bad_addresses_are_refused_with_the_field(site: WebSite) -> None:
    ticket_id = await _ticket(site)
    agent = await site.login("agent")
    too_big = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/replies", status=400, data=_form(
        {"subject": "Re", "body": "x"}, [("a.bin", "application/octet-stream", b"\0" * (CAP + 10))]))
    assert too_big["details"]["field"] == "attachments" and too_big["details"]["max_bytes"] == CAP
    async with site.services.db.transaction() as session:
        user = await session.get(User, site.users["agent"].id)
        assert user is not None
        user.language = "zh"  # errors come in the person's language
    bad = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/replies", status=400,
                          json={"subject": "Re", "body": "x", "cc": ["ok@example.com", "nobody"]})
    assert bad["details"]["field"] == "cc" and bad["details"]["errors"][0]["value"] == "nobody"
    assert bad["message"] == "有地址无效"
    wrong_type = await agent.api("POST", f"/api/v1/tickets/{ticket_id}/replies", status=400,
                                 json={"subject": "Re", "body": "x", "bcc": {"a": 1}})
    assert wrong_type["details"]["field"] == "bcc"
    async with site.services.db.session() as session:
        assert (await session.execute(select(OutboxMessage).where(OutboxMessage.dedup_key.like("reply:%")))).first() is None


async def test_the_draft_endpoints_keep_one_draft_per_person(site: WebSite) -> None:
    ticket_id = await _ticket(site)
    agent = await site.login("agent")
    other = await site.login("agent2")
    url = f"/api/v1/tickets/{ticket_id}/reply-draft"
    assert (await agent.api("GET", url))["draft"] is None
    saved = await agent.api("PUT", url, json={"to": "ana@example.com", "cc": "bo", "subject": "Re: Invoice",
                                              "body": "half a thought", "template_id": None})
    assert saved["draft"]["body"] == "half a thought"
    assert (await agent.api("GET", url))["draft"]["cc"] == "bo"  # a half-typed address is fine in a draft
    assert (await other.api("GET", url))["draft"] is None
    await agent.api("PUT", url, status=400, json={"body": 5})
    await agent.api("DELETE", url, status=204)
    assert (await agent.api("GET", url))["draft"] is None
    await agent.api("PUT", url, json={"body": "again"})
    await agent.api("POST", f"/api/v1/tickets/{ticket_id}/replies", status=201, json={"subject": "Re", "body": "sent"})
    assert (await agent.api("GET", url))["draft"] is None  # sending removed it
    await agent.api("GET", "/api/v1/tickets/999999/reply-draft", status=404)


async def _ops(site: WebSite) -> Actor:
    return Actor.of(site.users["ops"])


async def test_template_search_and_articles_with_public_links(site: WebSite) -> None:
    ticket_id = await _ticket(site, "Refund", "I want a refund")
    ops = await _ops(site)
    async with site.services.db.transaction() as session:
        await create_template(session, ops, TemplateDraft(name="Refund on its way", body="Your refund is on its way.",
                                                          keywords=[{"phrase": "refund"}]), site.services.renderer)  # type: ignore[list-item]
        await create_template(session, ops, TemplateDraft(name="Shipping times", body="Parcels take 3 days."),
                              site.services.renderer)
        published = await create_article(session, ops, ArticleDraft(title="How refunds work", body="Refunds take 5 days.",
                                                                    published=True))
        await create_article(session, ops, ArticleDraft(title="Refund internals", body="Only for staff."))
    site.services.templates.invalidate()
    agent = await site.login("agent")
    found = (await agent.api("GET", f"/api/v1/tickets/{ticket_id}/templates?q="))["templates"]
    assert {t["name"] for t in found} == {"Refund on its way", "Shipping times"}  # added after the mail came
    fresh = (await agent.api("GET", f"/api/v1/tickets/{ticket_id}/templates?fresh=1"))["templates"]
    assert fresh[0]["name"] == "Refund on its way" and fresh[0]["suggested"] and fresh[0]["matched"] == ["refund"]
    assert not fresh[1]["suggested"]
    shipping = (await agent.api("GET", f"/api/v1/tickets/{ticket_id}/templates?q=parcels"))["templates"]
    assert [t["name"] for t in shipping] == ["Shipping times"]
    articles = (await agent.api("GET", f"/api/v1/tickets/{ticket_id}/articles?q=refund"))["articles"]
    links = {a["title"]: a["link"] for a in articles}
    assert links == {"How refunds work": f"https://support.example.com/help/{published.id}", "Refund internals": None}
    ops_client = await site.login("ops")
    await ops_client.api("GET", f"/api/v1/tickets/{ticket_id}/templates", status=403)


async def test_the_form_without_javascript_sends_with_files(site: WebSite) -> None:
    ticket_id = await _ticket(site)
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    assert 'enctype="multipart/form-data"' in page and 'name="cc"' in page and 'name="bcc"' in page
    form = _form({"csrf_token": agent.csrf_token or "", "subject": "Re: Invoice", "body": "- one\n- two",
                  "format": "markdown", "to": "ana@example.com", "cc": "", "bcc": "", "template_id": ""},
                 [("list.txt", "text/plain", b"one, two")])
    response = await agent.http.post(f"/tickets/{ticket_id}/reply", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with site.services.db.session() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.dedup_key.like("reply:%")))).scalar_one()
    payload: dict[str, Any] = row.payload
    assert payload["html"] == "<ul><li>one</li><li>two</li></ul>" and payload["attachments"] == 1
    plain = await agent.http.post(f"/tickets/{ticket_id}/reply", allow_redirects=False, data={
        "csrf_token": agent.csrf_token or "", "subject": "Re", "body": "plain form", "cc": "boss@example.com"})
    assert plain.status == 303, await plain.text()
