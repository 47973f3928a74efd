"""The reply composer's mail, through a real SMTP server into a real IMAP mailbox: Cc in the
headers, Bcc on the envelope only, formatting as HTML with a plain-text alternative, files
stored with the reply and sent; bad addresses and oversized files refused naming the field;
the draft kept per ticket and person; any template findable, also on a call ticket."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.records import MailAttachment, MailMessage, SavedReplyDraft
from channels.replies import ReplyDraft
from channels.reply_attachments import OutgoingFile
from channels.reply_drafts import DraftFields
from channels.samples import compose
from channels.settings import MailboxSettings
from channels.sink import MailSink
from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.errors import InvalidInput
from core.records import Channel, EntryKind, Ticket, TimelineEntry
from knowledge.drafts import TemplateDraft
from knowledge.templates import create_template
from mail.helpers import eventually, fetch_all, make_agent


async def _mail_ticket(channel: EmailChannel, services: Services, sender: str, subject: str, body: str) -> Ticket:
    result = await channel.ingest_raw("support", compose(sender=sender, subject=subject, body=body,
                                                         message_id=f"<{abs(hash(subject))}@example.net>"))
    assert result.ticket_id is not None
    async with services.db.session() as session:
        ticket = await session.get(Ticket, result.ticket_id)
        assert ticket is not None
        return ticket


async def _delivered_reply(box: MailboxSettings, message_id: str) -> EmailMessage:
    async def arrived() -> bytes | None:
        return next((m for m in await fetch_all(box) if message_id.encode() in m), None)

    raw = await eventually(arrived)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_cc_bcc_formatting_and_attachments_reach_the_customer(
    channel: EmailChannel, mail_services: Services, customer_box: MailboxSettings, sink: MailSink
) -> None:
    ticket = await _mail_ticket(channel, mail_services, customer_box.address, "Invoice copy", "please send the invoice")
    agent = await make_agent(mail_services)
    pdf = b"%PDF-1.4 invoice " + bytes(range(256)) * 8
    draft = ReplyDraft(
        subject="Re: Invoice copy",
        body="Hello,\n\nyour **invoice** is attached:\n- paid *today*\n- see [our help](https://help.example.com/7)\n\n> please send the invoice",
        cc=["Accounts@Example.org, boss@example.org"], bcc=["audit@example.org"], format="markdown",
        attachments=[OutgoingFile("../factura 2026.pdf", "application/pdf", pdf),
                     OutgoingFile("notes.txt", "text/plain; charset=utf-8", "备注".encode())],
    )
    sent = await channel.replies.send(agent, ticket.id, draft)
    channel.start(ingest=False)
    reply = await _delivered_reply(customer_box, sent.message_id)

    assert reply["Cc"] == "accounts@example.org, boss@example.org"
    assert reply["Bcc"] is None and b"audit@example.org" not in reply.as_bytes()
    smtp = next(m for m in sink.messages if sent.message_id.encode() in m.data)
    assert set(smtp.recipients) == {customer_box.address, "accounts@example.org", "boss@example.org", "audit@example.org"}
    assert reply.get_content_type() == "multipart/mixed"
    plain = reply.get_body(preferencelist=("plain",))
    html = reply.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "your invoice is attached" in plain.get_content() and "our help <https://help.example.com/7>" in plain.get_content()
    markup = html.get_content()
    assert "<strong>invoice</strong>" in markup and "<em>today</em>" in markup and "<ul>" in markup
    assert '<a href="https://help.example.com/7"' in markup and "<blockquote>" in markup
    files = {part.get_filename(): part for part in reply.iter_attachments()}
    assert set(files) == {"factura 2026.pdf", "notes.txt"}
    assert files["factura 2026.pdf"].get_content_type() == "application/pdf"
    assert files["factura 2026.pdf"].get_payload(decode=True) == pdf
    assert files["notes.txt"].get_payload(decode=True) == "备注".encode()

    async with mail_services.db.session() as session:
        entry = await session.get(TimelineEntry, sent.entry.id)
        assert entry is not None
        assert entry.payload["cc"] == ["accounts@example.org", "boss@example.org"]
        assert entry.payload["bcc"] == ["audit@example.org"]
        assert entry.payload["text"].startswith("Hello,") and "<strong>" in entry.payload["html"]
        assert [a["filename"] for a in entry.payload["attachments"]] == ["factura 2026.pdf", "notes.txt"]
        stored = (await session.execute(
            select(MailAttachment).join(MailMessage, MailMessage.id == MailAttachment.message_row_id)
            .where(MailMessage.entry_id == entry.id).order_by(MailAttachment.id))).scalars().all()
        assert [(a.filename, a.content_type, a.data) for a in stored] == [
            ("factura 2026.pdf", "application/pdf", pdf), ("notes.txt", "text/plain", "备注".encode())]


async def test_bad_addresses_and_oversized_files_are_refused_naming_the_field(
    channel: EmailChannel, mail_services: Services
) -> None:
    ticket = await _mail_ticket(channel, mail_services, "ana@example.com", "Question", "hello")
    agent = await make_agent(mail_services)
    with pytest.raises(InvalidInput) as bad_cc:
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re", body="x", cc=["ok@example.com, not-an-address"],
                                                                bcc=["bad@"]))
    assert bad_cc.value.details["field"] == "cc"
    assert [(e["field"], e["value"]) for e in bad_cc.value.details["errors"]] == [("cc", "not-an-address"), ("bcc", "bad@")]
    with pytest.raises(InvalidInput) as bad_to:
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re", body="x", to="Eve <eve@example.com>"))
    assert bad_to.value.details["field"] == "to"
    with pytest.raises(InvalidInput) as injected:
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re", body="x", cc=["a@example.com\r\nBcc: x@evil.example"]))
    assert injected.value.details["field"] == "cc"
    cap = mail_services.settings.smtp.max_attachment_bytes
    with pytest.raises(InvalidInput) as too_big:
        await channel.replies.send(agent, ticket.id, ReplyDraft(
            subject="Re", body="x", attachments=[OutgoingFile("a.bin", "application/octet-stream", b"\0" * (cap // 2 + 1)),
                                                 OutgoingFile("b.bin", "application/octet-stream", b"\0" * (cap // 2 + 1))]))
    assert too_big.value.message == "the attachments are too large"
    assert too_big.value.details["field"] == "attachments" and too_big.value.details["max_bytes"] == cap
    with pytest.raises(InvalidInput) as unknown_format:
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re", body="x", format="rtf"))
    assert unknown_format.value.details["field"] == "format"
    async with mail_services.db.session() as session:
        sent = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_OUT))).scalars().all()
    assert sent == []


async def test_a_draft_is_kept_per_ticket_and_person_and_gone_once_sent(channel: EmailChannel, mail_services: Services) -> None:
    ticket = await _mail_ticket(channel, mail_services, "li@example.cn", "包裹", "我的包裹在哪里")
    alice = await make_agent(mail_services)
    bob = await make_agent(mail_services, "bob")
    drafts = channel.replies.drafts
    async with mail_services.db.session() as session:
        await drafts.save(session, alice, ticket.id, DraftFields(cc="boss@example.com", subject="Re: 包裹", body="半句话"))
        await drafts.save(session, alice, ticket.id, DraftFields(cc="boss@example.com", subject="Re: 包裹", body="半句话，再写"))
        await drafts.save(session, bob, ticket.id, DraftFields(body="Bob's own"))
        await session.commit()
    async with mail_services.db.session() as session:
        mine = await drafts.load(session, alice, ticket.id)
        theirs = await drafts.load(session, bob, ticket.id)
        assert mine is not None and (mine.cc, mine.body) == ("boss@example.com", "半句话，再写")
        assert theirs is not None and theirs.body == "Bob's own"
        with pytest.raises(InvalidInput):
            await drafts.save(session, alice, ticket.id, DraftFields(body="x" * 100_001))
    await channel.replies.send(alice, ticket.id, ReplyDraft(subject="Re: 包裹", body="已发出"))
    async with mail_services.db.session() as session:
        assert await drafts.load(session, alice, ticket.id) is None
        assert (await drafts.load(session, bob, ticket.id)) is not None  # Bob's is his
        assert len((await session.execute(select(SavedReplyDraft))).scalars().all()) == 1


async def _ops(services: Services) -> Actor:
    return await make_agent(services, "olga", ("ops",))


async def test_a_template_added_after_the_mail_is_found_and_suggested_again_on_demand(
    channel: EmailChannel, mail_services: Services
) -> None:
    ops = await _ops(mail_services)
    async with mail_services.db.transaction() as session:
        await create_template(session, ops, TemplateDraft(name="Greeting", body="Hello {{ customer.name }}",
                                                          keywords=[{"phrase": "hello"}]), mail_services.renderer)  # type: ignore[list-item]
    mail_services.templates.invalidate()
    ticket = await _mail_ticket(channel, mail_services, "ana@example.com", "Refund please", "Hello, I want a refund for order 42")
    async with mail_services.db.transaction() as session:
        await create_template(session, ops, TemplateDraft(name="Refund on its way", subject="Your refund",
                                                          body="Dear {{ customer.name or 'customer' }}, the refund is on its way.",
                                                          category="billing", keywords=[{"phrase": "refund", "weight": 2}]),  # type: ignore[list-item]
                              mail_services.renderer)
    mail_services.templates.invalidate()
    agent = await make_agent(mail_services)
    async with mail_services.db.session() as session:
        stored = await channel.replies.template_choices(session, agent, ticket.id, "", fresh=False)
        assert "Refund on its way" in [c.name for c in stored]  # every template, not only the stored suggestions
        assert not next(c for c in stored if c.name == "Refund on its way").suggested
        fresh = await channel.replies.template_choices(session, agent, ticket.id, "", fresh=True)
        assert fresh[0].name == "Refund on its way" and fresh[0].suggested and fresh[0].matched == ("refund",)
        assert [c.name for c in fresh] == ["Refund on its way", "Greeting"] and fresh[1].matched == ("hello",)
        assert stored[0].name == "Greeting" and stored[0].suggested  # what the matcher said when the mail came
        searched = await channel.replies.template_choices(session, agent, ticket.id, "greet", fresh=True)
        assert [c.name for c in searched] == ["Greeting"]
        assert await channel.replies.template_choices(session, agent, ticket.id, "nothing like this", fresh=True) == []


async def test_a_call_ticket_can_use_a_template_and_reply_to_the_customers_address(
    channel: EmailChannel, mail_services: Services, customer_box: MailboxSettings
) -> None:
    ops = await _ops(mail_services)
    agent = await make_agent(mail_services)
    async with mail_services.db.transaction() as session:
        template = await create_template(session, ops, TemplateDraft(
            name="Callback summary", subject="Our call", body="Dear {{ customer.name }}, as promised on the phone: refund today.",
            keywords=[{"phrase": "refund"}]), mail_services.renderer)  # type: ignore[list-item]
        customer = await create_customer(session, agent, CustomerDraft(name="Ana García", emails=[customer_box.address]))
        accepted = await mail_services.desk.open_ticket(session, agent, "Phone call: refund", "Caller asked about a refund",
                                                        customer_id=customer.id)
        accepted.ticket.channel = Channel.VOICE.value
        ticket_id, template_id = accepted.ticket.id, template.id
    mail_services.templates.invalidate()
    async with mail_services.db.session() as session:
        choices = await channel.replies.template_choices(session, agent, ticket_id, "", fresh=False)
        assert choices[0].template_id == template_id and choices[0].suggested  # computed from the thread: none stored
        preview = await channel.replies.preview(session, agent, ticket_id, template_id)
    assert "Ana García" in preview.body
    sent = await channel.replies.send(agent, ticket_id, ReplyDraft(subject=preview.subject, body=preview.body,
                                                                   template_id=template_id))
    channel.start(ingest=False)
    reply = await _delivered_reply(customer_box, sent.message_id)
    assert reply["To"] == customer_box.address and "as promised on the phone" in reply.get_content()
