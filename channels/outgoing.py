"""Queueing an email: the outbox row and our record of its Message-ID, in the caller's transaction.

Replies and acknowledgements both come through here, so every mail we send has a
Message-ID of our domain, threads under the customer's message, carries the ticket
tag in its subject, and is known when the customer answers it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from email.utils import make_msgid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channels.addresses import recipient_address, refuse_line_separators
from channels.records import MailAttachment, MailMessage
from channels.settings import SmtpSettings
from core.clock import Clock
from core.db import Database
from core.records import OutboxMessage, OutboxStatus, Ticket
from core.template_workers import TemplateRenderer
from knowledge.suggestions import TemplateLibrary
from routing.desk import TicketDesk

_TAG = re.compile(r"\[#(\d+)\]")


def tag_subject(subject: str, ticket: Ticket) -> str:
    marker = f"[{ticket.tag}]"
    subject = " ".join(subject.split())
    return subject if marker in subject else f"{marker} {subject}".strip()


def ticket_number_in(subject: str) -> list[int]:
    return [int(n) for n in _TAG.findall(subject or "")]


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().strip(">") or "localhost"


@dataclasses.dataclass(slots=True)
class MailServices:
    """What the email channel's services are built from (one set, shared by ingest and replies)."""

    db: Database
    desk: TicketDesk
    templates: TemplateLibrary
    clock: Clock
    smtp: SmtpSettings
    on_outbox: Callable[[], None] | None = None
    # Acknowledgements render here (the server passes its pool; started on first use).
    renderer: TemplateRenderer = dataclasses.field(default_factory=TemplateRenderer)

    @property
    def domain(self) -> str:
        """The domain of our Message-IDs."""
        return self.smtp.message_id_domain or domain_of(self.smtp.from_address)


@dataclasses.dataclass(slots=True)
class QueuedMail:
    outbox: OutboxMessage
    record: MailMessage
    message_id: str


def compose_outgoing(
    clock: Clock,
    *,
    ticket: Ticket | None,
    recipient: str,
    subject: str,
    body: str,
    domain: str,
    dedup_key: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    extra_headers: dict[str, str] | None = None,
    payload: dict[str, Any] | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    html: str | None = None,
    attachments: list[MailAttachment] | None = None,
) -> QueuedMail:
    """The outbox row and our record of the outgoing message (not yet added).

    ``cc`` becomes the Cc header; ``bcc`` goes in the row's payload, for the SMTP envelope only;
    ``html`` (already sanitised) is sent as the alternative to ``body``; ``attachments`` are
    stored with our record of the message, where the delivery reads them.

    InvalidInput when a header would carry a line separator or an address is not exactly one address.
    """
    headers: dict[str, str] = dict(extra_headers or {})
    payload = dict(payload or {})
    if cc:
        headers["Cc"] = ", ".join(recipient_address(a, "cc") for a in cc)
    if bcc:
        payload["bcc"] = [recipient_address(a, "bcc") for a in bcc]
    if html:
        payload["html"] = html
    if attachments:
        payload["attachments"] = len(attachments)
    if ticket is not None:
        subject = tag_subject(subject, ticket)
    message_id = make_msgid(domain=domain)
    headers["Message-ID"] = message_id
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    refs = list(dict.fromkeys([*(references or []), *([in_reply_to] if in_reply_to else [])]))[-20:]
    if refs:
        headers["References"] = " ".join(refs)
    refuse_line_separators({"subject": subject, **headers})
    recipient = recipient_address(recipient, "recipient")
    now = clock.now()
    outbox = OutboxMessage(
        channel="email",
        recipient=recipient,
        subject=subject[:500],
        body=body,
        headers=headers,
        payload=payload,
        ticket_id=ticket.id if ticket else None,
        dedup_key=dedup_key[:300],
        status=OutboxStatus.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    record = MailMessage(
        direction="out",
        message_id=message_id,
        ticket_id=ticket.id if ticket else None,
        sender="",
        subject=subject[:500],
        size=len(body.encode("utf-8")) + len((html or "").encode("utf-8")) + sum(a.size for a in attachments or []),
        created_at=now,
        attachments=list(attachments or []),
    )
    return QueuedMail(outbox, record, message_id)


async def queue_email(session: AsyncSession, clock: Clock, **fields: Any) -> QueuedMail:
    """``compose_outgoing``, added to the caller's transaction and flushed (ids known)."""
    queued = compose_outgoing(clock, **fields)
    session.add_all([queued.outbox, queued.record])
    await session.flush()
    return queued
