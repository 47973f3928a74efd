"""Agents answering customers by email: pick a template (suggested or searched), edit, send.

Sending writes the timeline entry (email_out), the outbox row and our record of
the Message-ID (with the attachments) in one transaction, records the first response on
the ticket and which template was used, and removes the agent's draft; the outbox worker
delivers after the commit. A reply goes to one To address with Cc and Bcc copies
(``channels.reply_recipients``), as plain text or, when the agent used the composer's
formatting, as sanitised HTML with its plain-text alternative (``channels.reply_formatting``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.addresses import refuse_line_separators
from channels.mime import html_to_text
from channels.outgoing import MailServices, queue_email, tag_subject
from channels.records import MailMessage, MailReference
from channels.reply_attachments import OutgoingFile, check_files, listed, stored
from channels.reply_drafts import ReplyDrafts
from channels.reply_formatting import format_reply
from channels.reply_recipients import check_recipients
from core.auth import Actor
from core.errors import InvalidInput, NotFound
from core.keyword_matcher import Suggestion
from core.records import Customer, EntryKind, Role, Ticket, TimelineEntry, User
from knowledge.rendering import reply_context
from knowledge.suggestions import RenderedReply
from knowledge.template_search import TemplateChoice, find_templates

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 100_000
# How much of the thread the on-demand suggestions read (newest first): enough for the
# matcher, bounded so a long thread costs the same as a short one.
THREAD_CHARS = 20_000
# Entries whose text is the conversation (what the customer said, what we noted of a call).
_THREAD_KINDS = (EntryKind.EMAIL_IN, EntryKind.EMAIL_OUT, EntryKind.CALL, EntryKind.NOTE)
FORMATS = ("plain", "markdown")


@dataclasses.dataclass(slots=True)
class ReplyDraft:
    subject: str
    body: str
    template_id: int | None = None
    to: str | None = None  # exactly one addr-spec; default: whoever wrote the ticket's last email
    cc: list[str] = dataclasses.field(default_factory=list)  # each may be "a@x, b@y" as typed
    bcc: list[str] = dataclasses.field(default_factory=list)
    format: str = "plain"  # "markdown": the composer's simple formatting, sent as HTML + plain text
    attachments: list[OutgoingFile] = dataclasses.field(default_factory=list)


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
        self.max_attachment_bytes = deps.smtp.max_attachment_bytes
        self.drafts = ReplyDrafts(deps.desk)

    async def suggestions(self, session: AsyncSession, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
        """The suggestions stored with the ticket's latest incoming mail."""
        entries = await self.desk.timeline(session, actor, ticket_id)
        for entry in reversed(entries):
            if entry.kind == EntryKind.EMAIL_IN and entry.payload.get("suggestions") is not None:
                return list(entry.payload["suggestions"])
        return []

    async def thread_suggestions(self, session: AsyncSession, actor: Actor, ticket_id: int) -> list[Suggestion]:
        """Suggestions computed now, from the ticket's subject and its conversation so far
        (newest first), against the templates as they are now: for call and web tickets,
        for templates added since the mail came, and for a thread that has moved on."""
        actor.require(Role.AGENT)
        ticket = await self.desk.get(session, actor, ticket_id)
        entries = await self.desk.timeline(session, actor, ticket_id)
        texts: list[str] = []
        size = 0
        for entry in reversed(entries):
            if entry.kind not in _THREAD_KINDS:
                continue
            text = str(entry.payload.get("text") or entry.payload.get("body") or entry.payload.get("summary") or "")
            if text:
                texts.append(text)
                size += len(text)
            if size >= THREAD_CHARS:
                break
        customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        language = customer.language if customer else None
        return await self.templates.suggest(session, ticket.subject, "\n\n".join(texts)[:THREAD_CHARS], language, limit=5)

    async def template_choices(
        self, session: AsyncSession, actor: Actor, ticket_id: int, query: str, fresh: bool
    ) -> list[TemplateChoice]:
        """Every active template matching ``query``, suggested ones first with their words.

        The suggestions are those stored when the latest mail arrived, unless ``fresh`` asks
        for them to be recomputed, or there are none stored (a call or web ticket)."""
        actor.require(Role.AGENT)
        stored_found = [] if fresh else await self.suggestions(session, actor, ticket_id)
        if stored_found:
            found = [Suggestion(int(s["template_id"]), str(s.get("name", "")), float(s.get("score", 0.0)),
                                tuple(s.get("matched") or ())) for s in stored_found]
        else:
            found = await self.thread_suggestions(session, actor, ticket_id)
        return await find_templates(session, actor, query, found)

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
        if draft.format not in FORMATS:
            raise InvalidInput("unknown reply format", {"field": "format", "formats": list(FORMATS)})
        refuse_line_separators({"subject": draft.subject})
        recipients = check_recipients(draft.to, draft.cc, draft.bcc)
        files = check_files(draft.attachments, self.max_attachment_bytes)
        original = await self._last_incoming(session, ticket.id)
        recipient = (recipients.to or (original.sender if original else "")
                     or await self._customer_address(session, ticket)).strip()
        if not recipient:
            raise InvalidInput("no address to reply to: the ticket has no email from the customer", {"field": "to"})
        formatted = format_reply(body) if draft.format == "markdown" else None
        text = formatted.text if formatted else body
        references = await self._references(session, original) if original else []
        queued = await queue_email(
            session,
            self.clock,
            ticket=ticket,
            recipient=recipient,
            subject=draft.subject.strip() or ticket.subject,
            body=text,
            domain=self.domain,
            dedup_key=f"reply:{ticket.id}:{self.clock.now().timestamp()}:{actor.user_id}",
            in_reply_to=original.message_id if original else None,
            references=references,
            payload={"kind": "reply", "mailbox": original.mailbox if original else None},
            cc=[a for a in recipients.cc if a != recipient.lower()],
            bcc=[a for a in recipients.bcc if a != recipient.lower()],
            html=formatted.html if formatted else None,
            attachments=stored(files),
        )
        queued.outbox.dedup_key = f"reply:{queued.message_id}"[:300]
        entry = await self.desk.append(
            session,
            ticket,
            EntryKind.EMAIL_OUT,
            {
                "subject": queued.outbox.subject,
                "to": recipient,
                "cc": list(recipients.cc),
                "bcc": list(recipients.bcc),  # staff see who was copied blind; the customer never does
                "text": text,
                **({"html": formatted.html} if formatted else {}),
                "attachments": listed(files),
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
        if actor.user_id is not None:
            await self.drafts.discard(session, actor, ticket.id)
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
