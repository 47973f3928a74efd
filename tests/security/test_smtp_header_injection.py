"""SMTP header injection: nothing an agent types, a customer writes or a template renders adds a
header or a recipient to the mail the real SMTP server receives.

Every separator ``str.splitlines`` knows is a line break to some mail parser (Python's own
among them), so each one is refused in every header-bound field; a recipient field holds
exactly one address.
"""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from integration.mail.helpers import append, eventually, make_agent
from mail_fixtures import add_user
from sqlalchemy import select
from web_fixtures import WebSite

from channels.dovecot import ThrowawayDovecot
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.replies import ReplyDraft
from channels.samples import compose
from channels.settings import MailboxSettings
from channels.sink import MailSink, SunkMail
from config.services import Services
from config.settings import ConfigError, Settings, load_settings
from core.errors import InvalidInput
from core.records import OutboxMessage, Ticket

SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
VICTIM = "victim@evil.example"
ACK_SUBJECT = "[{{ ticket.tag }}] {{ subject }} / {{ customer.name }}"


@pytest.fixture
def support(dovecot: ThrowawayDovecot) -> MailboxSettings:
    """The support mailbox, its acknowledgement subject built from what the customer wrote."""
    user = f"support{uuid.uuid4().hex[:8]}"
    add_user(dovecot, user)
    return dovecot.mailbox(user, name="support", address=f"{user}@example.com", acknowledge=True,
                           acknowledgement_subject=ACK_SUBJECT)


@pytest.fixture
async def channel(mail_services: Services) -> EmailChannel:  # type: ignore[misc]
    ch = EmailChannel(mail_services)
    yield ch  # type: ignore[misc]
    await ch.stop()


@pytest.fixture
def settings(mail_settings: Settings) -> Settings:
    """The web site of this module reads the real Dovecot and sends through the real sink."""
    return mail_settings


def received(mail: SunkMail) -> EmailMessage:
    return message_from_bytes(mail.data, policy=policy.default)  # type: ignore[return-value]


HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted", "x-loop",
           "content-type", "content-transfer-encoding", "mime-version"}


def assert_clean(mail: SunkMail, recipient: str) -> None:
    """What an injection would change: the envelope, the header lines, the header names."""
    assert mail.recipients == [recipient]
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and not any(ch in head for ch in b"\v\f\x1c\x1d\x1e\x00")
    lines = head.split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    for line in lines:
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0].decode().lower() in HEADERS, line
    assert {name.lower() for name in received(mail).keys()} <= HEADERS
    assert received(mail)["To"] == recipient


async def first_ticket(services: Services) -> Ticket:
    async with services.db.session() as session:
        ticket = (await session.execute(select(Ticket).order_by(Ticket.id))).scalars().first()
    assert ticket is not None
    return ticket


async def test_a_reply_subject_with_any_line_separator_is_refused(
    channel: EmailChannel, mail_services: Services, customer_box: MailboxSettings, sink: MailSink
) -> None:
    customer = customer_box.address
    await channel.ingest_raw("support", compose(sender=customer, subject="Where is my parcel?"))
    ticket = await first_ticket(mail_services)
    agent = await make_agent(mail_services)
    for sep in SEPARATORS:
        with pytest.raises(InvalidInput) as refused:
            await channel.replies.send(agent, ticket.id, ReplyDraft(subject=f"Hi{sep}Bcc: {VICTIM}", body="x"))
        assert refused.value.details == {"field": "subject"}, repr(sep)
    await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re: Where is my parcel?", body="It ships today."))
    await channel.outbox.run_once()
    assert len(sink.messages) == 2  # the acknowledgement and the one clean reply, nothing else
    for mail in sink.messages:
        assert_clean(mail, customer)


@pytest.mark.parametrize(
    "to",
    [
        f"{VICTIM}, customer@example.net",  # a comma list in one entry
        f"customer@example.net,{VICTIM}",
        f"customer@example.net;{VICTIM}",
        f"Customer <customer@example.net>, {VICTIM}",
        "Customer <customer@example.net>",  # one entry is one addr-spec, no display name
        *[f"customer@example.net{sep}Bcc: {VICTIM}" for sep in SEPARATORS],
        *[f"customer@example.net{sep}" for sep in ("\u2028", "\x85", "\n")],
        f"=?utf-8?q?{VICTIM}?=",
    ],
)
async def test_a_reply_to_is_exactly_one_address(
    channel: EmailChannel, mail_services: Services, sink: MailSink, to: str
) -> None:
    await channel.ingest_raw("support", compose(sender="customer@example.net", subject="hello"))
    ticket = await first_ticket(mail_services)
    agent = await make_agent(mail_services)
    with pytest.raises(InvalidInput) as refused:
        await channel.replies.send(agent, ticket.id, ReplyDraft(subject="Re: hello", body="x", to=to))
    assert refused.value.details == {"field": "to"}
    await channel.outbox.run_once()
    assert [m.recipients for m in sink.messages] == [["customer@example.net"]]  # the acknowledgement only


async def test_the_api_names_the_refused_field_and_sends_nothing(site: WebSite, sink: MailSink) -> None:
    channel = site.server.app[EMAIL_CHANNEL]
    result = await channel.ingest_raw("support", compose(sender="customer@example.net", subject="hello"))
    agent = await site.login("agent")
    url = f"/api/v1/tickets/{result.ticket_id}/replies"
    for body in (
        {"subject": "Re: hello", "body": "x", "to": f"customer@example.net, {VICTIM}"},
        {"subject": "Re: hello", "body": "x", "to": f"customer@example.net\u2028Bcc: {VICTIM}"},
        {"subject": f"Re: hello\u2028Bcc: {VICTIM}", "body": "x"},
        {"subject": f"Re: hello\x85Bcc: {VICTIM}", "body": "x"},
    ):
        refused = await agent.api("POST", url, json=body, status=400)
        assert refused["details"]["field"] == ("to" if "to" in body else "subject")
    await agent.api("POST", url, json={"subject": "Re: hello", "body": "Fine.", "to": "customer@example.net"}, status=201)

    async def delivered() -> bool:
        return len(sink.messages) >= 2

    await eventually(delivered)
    for mail in sink.messages:
        assert_clean(mail, "customer@example.net")


async def test_customer_text_in_a_template_rendered_into_the_subject_cannot_add_headers(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings, customer_box: MailboxSettings, sink: MailSink
) -> None:
    """The acknowledgement subject renders the customer's subject and name (RFC 2047 hides any byte)."""
    customer = customer_box.address
    injected = "".join(f"Hi{sep}Bcc: {VICTIM}{sep}X-Injected: 1" for sep in SEPARATORS)
    words = "=?utf-8?q?" + "".join(f"={b:02X}" for b in injected.encode()) + "?="
    raw = (
        f"From: {words} <{customer}>\r\nTo: {support.address}\r\nSubject: {words}\r\nMessage-ID: <inj@example.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    ).encode()
    await append(support, raw)
    channel.start()

    async def acknowledged() -> bool:
        return bool(sink.messages)

    await eventually(acknowledged)
    [ack] = sink.messages
    assert_clean(ack, customer)
    subject = str(received(ack)["Subject"])
    assert subject.startswith("[#") and "Bcc: victim@evil.example" in subject  # the text is there, on one line
    assert not any(sep in subject for sep in SEPARATORS)


@pytest.mark.parametrize(
    ("recipient", "subject"),
    [
        (f"ops@example.com, {VICTIM}", "SLA breach"),
        ("ops@example.com", f"SLA breach\x85Bcc: {VICTIM}"),
        ("ops@example.com", f"SLA breach\u2028Bcc: {VICTIM}"),
        (f"ops@example.com\vBcc: {VICTIM}", "SLA breach"),
    ],
)
async def test_the_smtp_sender_refuses_any_outbox_row_that_would_inject(
    channel: EmailChannel, mail_services: Services, sink: MailSink, recipient: str, subject: str
) -> None:
    """The last gate, whatever service wrote the row (an SLA alert, a fallback of an SMS)."""
    now = mail_services.clock.now()
    async with mail_services.db.transaction() as session:
        session.add(OutboxMessage(channel="email", recipient=recipient, subject=subject, body="x", headers={}, payload={},
                                  dedup_key=f"alert:{uuid.uuid4().hex}", status="pending", attempts=0,
                                  created_at=now, next_attempt_at=now))
    await channel.outbox.run_once()
    async with mail_services.db.session() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.status == "failed"
    assert sink.messages == []


@pytest.mark.parametrize(
    "smtp",
    [
        {"from_name": f"Support\u2028Bcc: {VICTIM}"},
        {"from_name": f"Support\r\nBcc: {VICTIM}"},
        {"from_address": f"support@example.com, {VICTIM}"},
        {"from_address": f"support@example.com\x85Bcc: {VICTIM}"},
        {"message_id_domain": f"example.com\nBcc: {VICTIM}"},
    ],
)
def test_a_config_whose_sender_identity_would_inject_headers_is_refused(database_url: str, smtp: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, database_url=database_url, smtp=smtp)
    assert next(iter(smtp)) in str(refused.value)
