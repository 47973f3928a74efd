"""Agents answering customers by email: pick a suggestion, edit, send.

Sending writes the timeline entry (email_out), the outbox row and our record of
the Message-ID in one transaction, records the first response on the ticket and
which suggestion was used; the outbox worker delivers after the commit.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.addresses import recipient_address, refuse_line_separators
from channels.mime import html_to_text
from channels.outgoing import MailServices, queue_email, tag_subject
from channels.records import MailMessage, MailReference
from core.auth import Actor
from core.errors import InvalidInput, NotFound
from core.records import Customer, EntryKind, Role, Ticket, TimelineEntry, User
from knowledge.rendering import reply_context
from knowledge.suggestions import RenderedReply

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 100_000


@dataclasses.dataclass(slots=True)
class ReplyDraft:
    subject: str
    body: str
    template_id: int | None = None
    to: str | None = None  # exactly one addr-spec; default: whoever wrote the ticket's last email


@dataclasses.dataclass(slots=True)
class SentReply:
    entry: TimelineEntry
    outbox_id: int
    message_id: str


class ReplyDesk:
    def __init__(self, deps: MailServices) -> None:
        self.db = deps.db
        self.desk = deps.desk
        self.templates = deps.templates
        self.clock = deps.clock
        self.on_outbox = deps.on_outbox
        self.domain = deps.domain

    async def suggestions(self, session: AsyncSession, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
        """The suggestions stored with the ticket's latest incoming mail."""
        entries = await self.desk.timeline(session, actor, ticket_id)
        for entry in reversed(entries):
            if entry.kind == EntryKind.EMAIL_IN and entry.payload.get("suggestions") is not None:
                return list(entry.payload["suggestions"])
        return []

    async def preview(self, session: AsyncSession, actor: Actor, ticket_id: int, template_id: int) -> RenderedReply:
        """A template rendered for this ticket, for the agent to edit before sending."""
        actor.require(Role.AGENT)
        ticket = await self.desk.get(session, actor, ticket_id)
        context = await self._context(session, actor, ticket)
        rendered = await self.templates.render(session, template_id, context)
        body = html_to_text(rendered.body) if getattr(rendered, "is_html", False) else rendered.body
        return RenderedReply(rendered.template_id, tag_subject(rendered.subject or ticket.subject, ticket), body)

    async def _context(self, session: AsyncSession, actor: Actor, ticket: Ticket) -> dict[str, Any]:
        customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        agent = await session.get(User, actor.user_id) if actor.user_id else None
        return reply_context(customer, ticket, agent)

    async def compose(self, session: AsyncSession, actor: Actor, ticket_id: int, draft: ReplyDraft) -> SentReply:
        """Queue the reply in the caller's transaction (the caller commits)."""
        actor.require(Role.AGENT)
        ticket = await self.desk.get(session, actor, ticket_id)
        body = draft.body or ""
        if not body.strip():
            raise InvalidInput("the reply is empty")
        if len(body) > MAX_BODY_CHARS:
            raise InvalidInput("the reply is too long", {"max_chars": MAX_BODY_CHARS})
        refuse_line_separators({"subject": draft.subject})
        chosen = recipient_address(draft.to, "to") if draft.to is not None else None
        original = await self._last_incoming(session, ticket.id)
        recipient = (chosen or (original.sender if original else "") or await self._customer_address(session, ticket)).strip()
        if not recipient:
            raise InvalidInput("no address to reply to: the ticket has no email from the customer")
        references = await self._references(session, original) if original else []
        queued = await queue_email(
            session,
            self.clock,
            ticket=ticket,
            recipient=recipient,
            subject=draft.subject.strip() or ticket.subject,
            body=body,
            domain=self.domain,
            dedup_key=f"reply:{ticket.id}:{self.clock.now().timestamp()}:{actor.user_id}",
            in_reply_to=original.message_id if original else None,
            references=references,
            payload={"kind": "reply", "mailbox": original.mailbox if original else None},
        )
        queued.outbox.dedup_key = f"reply:{queued.message_id}"[:300]
        entry = await self.desk.append(
            session,
            ticket,
            EntryKind.EMAIL_OUT,
            {
                "subject": queued.outbox.subject,
                "to": recipient,
                "text": body,
                "message_id": queued.message_id,
                "in_reply_to": original.message_id if original else None,
                "outbox_id": queued.outbox.id,
                "template_id": draft.template_id,
            },
            author_id=actor.user_id,
            dedup_key=f"reply:{queued.message_id}"[:300],
        )
        queued.record.entry_id = entry.id
        await self.desk.record_reply(session, ticket, actor)
        if draft.template_id is not None:
            record_use = getattr(self.templates, "record_use", None)
            if record_use is not None:
                try:
                    await record_use(session, draft.template_id, ticket.id, actor.user_id)
                except NotFound:  # the template was deleted since the agent picked it: the reply still goes
                    log.info("reply on ticket %s: template %s no longer exists", ticket.id, draft.template_id)
        return SentReply(entry, queued.outbox.id, queued.message_id)

    async def send(self, actor: Actor, ticket_id: int, draft: ReplyDraft) -> SentReply:
        """Compose, commit, publish, and wake the sender."""
        async with self.db.session() as session:
            sent = await self.compose(session, actor, ticket_id, draft)
            await self.desk.commit_and_publish(session)
        if self.on_outbox:
            self.on_outbox()
        return sent

    async def _last_incoming(self, session: AsyncSession, ticket_id: int) -> MailMessage | None:
        stmt = (
            select(MailMessage)
            .where(MailMessage.ticket_id == ticket_id, MailMessage.direction == "in")
            .order_by(MailMessage.id.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalars().first()

    async def _references(self, session: AsyncSession, original: MailMessage) -> list[str]:
        """The original's thread, oldest first (we store it nearest first)."""
        stmt = select(MailReference.ref).where(MailReference.message_row_id == original.id).order_by(MailReference.id)
        nearest_first = list((await session.execute(stmt)).scalars())
        return [*reversed(nearest_first), *([original.message_id] if original.message_id else [])]

    async def _customer_address(self, session: AsyncSession, ticket: Ticket) -> str:
        if ticket.customer_id is None:
            return ""
        customer = await session.get(Customer, ticket.customer_id)
        return customer.emails[0].address if customer and customer.emails else ""
