"""The web channel: a request sent from the help centre's form becomes a ticket.

It is an adapter like the mail ingest: it turns the form into a ``Contact`` with channel
"web" and hands it to the desk, so the same ``RoutingPolicy`` decides the queue, and the
customer gets the same acknowledgement mail (the default mailbox's texts, in the customer's
language, through the outbox) as someone who wrote in. The message is kept as an incoming
message record with its files (``MailAttachment``, like a mail's), so the ticket page shows it
and its attachments the way it shows mail. Everything is written in one transaction: a form
that fails writes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channels.ingest import MailImporter
from channels.mail_batch import Acknowledgement
from channels.mime import ParsedAttachment, ParsedMail
from channels.outgoing import MailServices
from channels.records import MailAttachment, MailMessage
from core.auth import Actor
from core.customers import CustomerDraft, create_customer, find_by_email, normalize_email
from core.errors import InvalidInput
from core.records import Channel, Customer, EntryKind, Tier
from routing import Contact

# What a form may carry: a few files, a little in all (the web edge reads the whole form in
# memory, within ``web.max_body_bytes``).
MAX_FILES = 3
MAX_FILE_BYTES = 1_000_000
SUBJECT_CAP = 200
MESSAGE_CAP = 10_000
NAME_CAP = 200
PHONE_CAP = 40
ORDER_CAP = 60


@dataclasses.dataclass(slots=True)
class WebRequest:
    """What the customer typed into the form."""

    subject: str
    message: str
    email: str
    name: str = ""
    phone: str = ""
    order_number: str = ""
    language: str | None = None  # the page's language: the acknowledgement's for a new customer
    attachments: list[ParsedAttachment] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class SubmittedRequest:
    ticket_id: int
    ticket_tag: str
    acknowledged: bool


def checked(request: WebRequest) -> WebRequest:
    """The request with its address normalised, or an ``InvalidInput`` naming the field."""
    email = normalize_email(request.email, "email")
    fields = {"subject": (request.subject, SUBJECT_CAP), "message": (request.message, MESSAGE_CAP),
              "name": (request.name, NAME_CAP), "phone": (request.phone, PHONE_CAP),
              "order_number": (request.order_number, ORDER_CAP)}
    for field, (value, cap) in fields.items():
        if len(value) > cap:
            raise InvalidInput("the value is too long", {"field": field, "max": cap})
    for field in ("subject", "message"):
        if not getattr(request, field).strip():
            raise InvalidInput("this field is required", {"field": field})
    if len(request.attachments) > MAX_FILES:
        raise InvalidInput("too many files", {"field": "attachments", "max": MAX_FILES})
    if any(a.size > MAX_FILE_BYTES for a in request.attachments):
        raise InvalidInput("a file is too large", {"field": "attachments", "max": MAX_FILE_BYTES})
    return dataclasses.replace(request, email=email, subject=" ".join(request.subject.split()))


class WebRequestDesk:
    """Turns form requests into tickets; ``importer`` is the mailbox whose acknowledgement
    the customer gets (None: no mailbox configured, no acknowledgement)."""

    def __init__(self, deps: MailServices, importer: MailImporter | None) -> None:
        self.db = deps.db
        self.desk = deps.desk
        self.clock = deps.clock
        self.domain = deps.domain
        self.on_outbox = deps.on_outbox
        self.importer = importer

    async def submit(self, request: WebRequest) -> SubmittedRequest:
        request = checked(request)
        async with self.db.transaction() as session:
            customer = await self._customer(session, request)
            submitted = await self._accept(session, customer, request)
        await self.desk.publish_pending(session)
        if submitted.acknowledged and self.on_outbox:
            self.on_outbox()
        return submitted

    async def _customer(self, session: AsyncSession, request: WebRequest) -> Customer:
        """The customer with this address, or a new one (tier "new", in the page's language)."""
        known = await find_by_email(session, request.email)
        if known is not None:
            return known
        draft = CustomerDraft(name=request.name.strip() or request.email.split("@", 1)[0], emails=[request.email],
                              tier=Tier.NEW.value, language=request.language)
        return await create_customer(session, Actor.system(), draft)

    async def _accept(self, session: AsyncSession, customer: Customer, request: WebRequest) -> SubmittedRequest:
        message_id = f"<web.{secrets.token_hex(12)}@{self.domain}>"
        text = request.message.strip()
        details = [f"{label}: {value.strip()}" for label, value in
                   (("Phone", request.phone), ("Order number", request.order_number)) if value.strip()]
        body = "\n\n".join([text, "\n".join(details)]) if details else text
        digest = hashlib.sha256(f"{message_id}\n{body}".encode()).hexdigest()
        parsed = ParsedMail(
            message_id=message_id, in_reply_to=[], references=[], subject=request.subject,
            sender=request.email, sender_name=request.name.strip(), to=[], cc=[], date=self.clock.now(),
            text=body, html=None, attachments=request.attachments, auto_signals=[], x_loop=[],
            content_hash=digest, size=len(body.encode()) + sum(a.size for a in request.attachments),
        )
        payload: dict[str, Any] = {
            "channel": Channel.WEB.value,
            "message_id": message_id,
            "subject": request.subject,
            "from": request.email,
            "from_name": request.name.strip(),
            "to": [], "cc": [],
            "date": self.clock.now().isoformat(),
            "text": body,
            "html": None,
            "phone": request.phone.strip(),
            "order_number": request.order_number.strip(),
            "attachments": [{"index": n, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                            for n, a in enumerate(request.attachments)],
        }
        contact = Contact(
            channel=Channel.WEB.value, customer_id=customer.id, customer_tier=customer.tier,
            subject=request.subject, body=body, address=request.email,
            attributes={"order_number": request.order_number.strip(), "phone": request.phone.strip()},
        )
        accepted = await self.desk.accept(session, contact, EntryKind.EMAIL_IN, payload, dedup_key=f"web:{message_id}")
        ticket = accepted.ticket
        session.add(MailMessage(
            # the mailbox that acknowledges it, whose address the agents' replies come from (and
            # whose Sent folder keeps them); the ticket's channel and the entry say "web"
            direction="in", mailbox=self.importer.mailbox.name if self.importer else Channel.WEB.value, message_id=message_id, content_hash=digest, ticket_id=ticket.id,
            entry_id=accepted.entry.id if accepted.entry else None, sender=request.email, subject=request.subject[:500],
            size=parsed.size, raw=None, created_at=self.clock.now(),
            attachments=[MailAttachment(filename=a.filename[:300], content_type=a.content_type[:200], size=a.size,
                                        content_id=None, data=a.data) for a in request.attachments],
            references=[],
        ))
        importer = self.importer
        acknowledge = bool(accepted.created and importer is not None and importer.mailbox.acknowledge
                           and accepted.decision.acknowledgement != "none")
        if acknowledge and importer is not None:
            template = accepted.decision.acknowledgement
            session.add_all(await importer.acknowledgements(session, [Acknowledgement(ticket, customer, parsed, template)]))
        await session.flush()
        return SubmittedRequest(ticket.id, ticket.tag, acknowledge)
