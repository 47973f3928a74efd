"""From raw mail to ticket entries: the pipeline after the IMAP fetch.

For a batch of fetched messages, in one transaction: quarantine what cannot be
parsed, drop duplicates (Message-ID, then content hash), thread (references we
know, replies that arrived first, the ticket tag), find or create the customer,
hand the contact to the desk, store suggestions, apply the loop guard, queue the
acknowledgement, and advance the mailbox checkpoint — all committed together, so
the checkpoint never runs ahead of the tickets. If the batch fails as a whole it
is replayed one message per transaction, and a message that still fails alone is
quarantined with its error: it never blocks the mail behind it.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from agent_ui.base.i18n import guess_language, translate
from channels.charsets import without_lone_surrogates
from channels.mime import ParsedMail, UnparseableMail, content_hash, html_to_text, parse_message
from channels.outgoing import MailServices, compose_outgoing, ticket_number_in
from channels.parsing import MailParser, Parsed
from channels.records import (
    MailAttachment,
    MailboxCheckpoint,
    MailMessage,
    MailReference,
    QuarantinedMail,
    QuarantineStatus,
)
from channels.settings import DEFAULT_ACK_BODY, DEFAULT_ACK_SUBJECT, MailboxSettings
from core.records import (
    AuditLog,
    Customer,
    CustomerEmail,
    EntryKind,
    OutboxMessage,
    Ticket,
    Tier,
    ticket_id_of_number,
)
from core.template_workers import TemplateJob
from knowledge.records import ReplyTemplate
from knowledge.templates import template_in_language
from routing import Contact, ticket_id_of
from routing.contact import suggested_template
from routing.merging import survivor

log = logging.getLogger(__name__)

@dataclasses.dataclass(slots=True)
class FetchedMail:
    uid: int | None
    raw: bytes


@dataclasses.dataclass(slots=True)
class IngestResult:
    uid: int | None
    outcome: str  # imported | duplicate | quarantined
    ticket_id: int | None = None
    entry_id: int | None = None
    message_row_id: int | None = None
    quarantine_id: int | None = None
    acknowledged: bool = False




@dataclasses.dataclass(slots=True)
class Acknowledgement:
    """A new ticket to acknowledge, and with what: ``template`` is the reply template a routing
    rule named (rendered in the customer's language), None for the mailbox's own texts."""

    ticket: Ticket
    customer: Customer
    mail: ParsedMail
    template: str | None = None


class MailImporter:
    """Imports fetched mail of one mailbox into tickets; owns its checkpoint row."""

    def __init__(self, deps: MailServices, mailbox: MailboxSettings, parser: MailParser | None = None) -> None:
        self.db = deps.db
        self.desk = deps.desk
        self.templates = deps.templates
        self.clock = deps.clock
        self.mailbox = mailbox
        self.smtp = deps.smtp
        self.on_outbox = deps.on_outbox
        self.domain = deps.domain
        self.parser = parser or MailParser(processes=0)
        self.imported = 0
        self.duplicates = 0
        self.quarantined = 0
        self.renderer = deps.renderer

    # -- checkpoint ------------------------------------------------------------------
    async def checkpoint(self) -> MailboxCheckpoint | None:
        async with self.db.session() as session:
            return await session.get(MailboxCheckpoint, self.mailbox.name)

    async def _advance(self, session: AsyncSession, uidvalidity: int | None, uid: int | None) -> None:
        if uidvalidity is None:
            return
        cp = await session.get(MailboxCheckpoint, self.mailbox.name)
        now = self.clock.now()
        if cp is None:
            session.add(MailboxCheckpoint(mailbox=self.mailbox.name, uidvalidity=uidvalidity, last_uid=uid or 0, updated_at=now))
            return
        if cp.uidvalidity != uidvalidity:
            cp.uidvalidity, cp.last_uid = uidvalidity, 0
        if uid is not None and uid > cp.last_uid:
            cp.last_uid = uid
        cp.updated_at = now

    async def reset_checkpoint(self, uidvalidity: int, last_uid: int = 0) -> None:
        """A new UIDVALIDITY: start the folder again from UID 1 (dedup keeps it exactly-once)."""
        async with self.db.transaction() as session:
            cp = await session.get(MailboxCheckpoint, self.mailbox.name)
            if cp is None:
                session.add(MailboxCheckpoint(mailbox=self.mailbox.name, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=self.clock.now()))
            else:
                cp.uidvalidity, cp.last_uid, cp.updated_at = uidvalidity, last_uid, self.clock.now()

    # -- the batch -----------------------------------------------------------------------
    async def ingest(
        self, uidvalidity: int | None, mails: Sequence[FetchedMail], parsed: Sequence[Parsed] | None = None
    ) -> list[IngestResult]:
        """Import ``mails`` (in UID order) and advance the checkpoint past them, atomically.

        ``uidvalidity`` None: mail that did not come from the IMAP folder (the demo,
        a retry), which leaves the checkpoint alone.
        """
        if not mails:
            return []
        if parsed is None:
            parsed = await self.parser.parse([m.raw for m in mails], self.mailbox.max_message_bytes)
        last_uid = max((m.uid for m in mails if m.uid is not None), default=None)
        try:
            async with self.db.session() as session:
                batch = BatchContext(self)
                await batch.load(session, [p for p in parsed if isinstance(p, ParsedMail)])
                results = [await self._import_one(session, uidvalidity, m, p, batch) for m, p in zip(mails, parsed, strict=True)]
                await batch.finish(session)
                await self._advance(session, uidvalidity, last_uid)
                await self.desk.commit_and_publish(session)
        except Exception:
            await self._database_is_up()
            if len(mails) == 1:
                return [await self._quarantine_alone(uidvalidity, mails[0])]
            log.warning("mailbox %s: batch of %d failed, importing one by one", self.mailbox.name, len(mails), exc_info=True)
            results = []
            for mail, one in zip(mails, parsed, strict=True):
                results.extend(await self._ingest_alone(uidvalidity, mail, one))
        self._count(results)
        if self.on_outbox and any(r.acknowledged for r in results):
            self.on_outbox()
        return results

    async def _ingest_alone(self, uidvalidity: int | None, mail: FetchedMail, parsed: Parsed) -> list[IngestResult]:
        try:
            async with self.db.session() as session:
                batch = BatchContext(self)
                if isinstance(parsed, ParsedMail):
                    await batch.load(session, [parsed])
                result = await self._import_one(session, uidvalidity, mail, parsed, batch)
                await batch.finish(session)
                await self._advance(session, uidvalidity, mail.uid)
                await self.desk.commit_and_publish(session)
            return [result]
        except Exception:
            await self._database_is_up()
            log.exception("mailbox %s: message uid %s failed; quarantined", self.mailbox.name, mail.uid)
            return [await self._quarantine_alone(uidvalidity, mail)]

    async def _database_is_up(self) -> None:
        """A failure of the database is not the mail's fault: re-raise it, quarantine nothing.

        The checkpoint has not moved, so the supervisor's retry fetches the same mail again.
        """
        if not await self.db.ping():
            raise

    async def _quarantine_alone(self, uidvalidity: int | None, mail: FetchedMail, error: str | None = None) -> IngestResult:
        reason = error or traceback.format_exc(limit=3)
        async with self.db.transaction() as session:
            row = self._quarantine(session, uidvalidity, mail, f"import failed: {reason}")
            await self._advance(session, uidvalidity, mail.uid)
            await session.flush()
        return IngestResult(mail.uid, "quarantined", quarantine_id=row.id)

    def _count(self, results: list[IngestResult]) -> None:
        for r in results:
            if r.outcome == "imported":
                self.imported += 1
            elif r.outcome == "duplicate":
                self.duplicates += 1
            else:
                self.quarantined += 1

    def _quarantine(self, session: AsyncSession, uidvalidity: int | None, mail: FetchedMail, error: str) -> QuarantinedMail:
        row = QuarantinedMail(
            mailbox=self.mailbox.name,
            uidvalidity=uidvalidity,
            uid=mail.uid,
            size=len(mail.raw),
            content_hash=content_hash(mail.raw),
            error=without_lone_surrogates(error).replace("\x00", "")[:4000],  # a traceback may quote the mail
            raw=mail.raw,
            created_at=self.clock.now(),
        )
        session.add(row)
        return row

    # -- one message -------------------------------------------------------------------
    async def _import_one(self, session: AsyncSession, uidvalidity: int | None, mail: FetchedMail, parsed: Parsed, batch: BatchContext) -> IngestResult:
        if isinstance(parsed, UnparseableMail):
            digest = content_hash(mail.raw)
            held = await session.scalar(
                select(QuarantinedMail.id).where(QuarantinedMail.content_hash == digest, QuarantinedMail.status == QuarantineStatus.HELD)
            )
            if held is not None:  # the same bad mail fetched again (e.g. after a UIDVALIDITY change)
                return IngestResult(mail.uid, "duplicate", quarantine_id=held)
            row = self._quarantine(session, uidvalidity, mail, str(parsed))
            await session.flush()
            log.info("mailbox %s: uid %s quarantined: %s", self.mailbox.name, mail.uid, parsed)
            return IngestResult(mail.uid, "quarantined", quarantine_id=row.id)
        return await self.import_parsed(session, uidvalidity, mail, parsed, batch)

    async def import_parsed(
        self, session: AsyncSession, uidvalidity: int | None, mail: FetchedMail, p: ParsedMail, batch: BatchContext
    ) -> IngestResult:
        """One parsed mail onto a ticket; its own rows are written at the batch's end (``batch.finish``)."""
        if batch.is_duplicate(p):
            return IngestResult(mail.uid, "duplicate")
        thread_ticket, how = await batch.thread(session, p)
        customer = batch.customers[p.sender]
        loop_reasons = list(p.auto_signals)
        own = {self.mailbox.address.lower(), self.smtp.from_address.lower()}
        if own & set(p.x_loop):
            loop_reasons.append("X-Loop: our own")
        if p.sender in own:
            loop_reasons.append("sent from our own address")
        suggestions = await self.templates.suggest(session, p.subject, p.text, language=customer.language)
        payload: dict[str, Any] = {
            "mailbox": self.mailbox.name,
            "message_id": p.message_id,
            "subject": p.subject,
            "from": p.sender,
            "from_name": p.sender_name,
            "to": p.to,
            "cc": p.cc,
            "date": p.date.isoformat() if p.date else None,
            "text": p.text,
            "html": p.html,
            "attachments": [
                {"index": n, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                for n, a in enumerate(p.attachments)
            ],
            "automatic": loop_reasons,
            "threaded_by": how,
            "suggestions": [
                {"template_id": s.template_id, "name": s.name, "score": s.score, "matched": list(s.matched)} for s in suggestions
            ],
        }
        contact = Contact(
            channel="email",
            customer_id=customer.id,
            customer_tier=customer.tier,
            subject=p.subject,
            body=p.text,
            address=p.sender,
            ticket_id=thread_ticket,
            attributes={"mailbox": self.mailbox.name, "message_id": p.message_id, "automatic": bool(loop_reasons),
                        # the top suggestion, for rules on "the suggested template or its category"
                        **(suggested_template(suggestions[0].name, suggestions[0].category) if suggestions else {})},
        )
        dedup_key = f"mail:{p.message_id or p.content_hash}"[:300]
        accepted = await self.desk.accept(session, contact, EntryKind.EMAIL_IN, payload, dedup_key=dedup_key, flush=False)
        ticket = accepted.ticket
        if accepted.created:
            batch.opened.add(id(ticket))
        record = MailMessage(
            direction="in",
            mailbox=self.mailbox.name,
            uidvalidity=uidvalidity if mail.uid is not None else None,
            uid=mail.uid,
            message_id=p.message_id,
            content_hash=p.content_hash,
            ticket=ticket,
            entry=accepted.entry,
            sender=p.sender,
            subject=p.subject,
            size=p.size,
            raw=mail.raw,
            created_at=self.clock.now(),
            attachments=[
                MailAttachment(filename=a.filename, content_type=a.content_type[:200], size=a.size, content_id=a.content_id, data=a.data)
                for a in p.attachments
            ],
            references=[MailReference(ref=ref[:500]) for ref in p.thread_refs],
        )
        acknowledge = bool(accepted.created and not loop_reasons and self.mailbox.acknowledge
                           and accepted.decision.acknowledgement != "none"  # a routing rule said: no acknowledgement
                           and batch.may_auto_reply(p.sender))
        if acknowledge:
            template = accepted.decision.acknowledgement  # a reply template a routing rule named, or None: the mailbox's
            batch.acknowledgements.append(Acknowledgement(ticket, customer, p, template))
        result = IngestResult(mail.uid, "imported", acknowledged=acknowledge)
        batch.imported(record, p, result)
        return result

    async def acknowledgements(self, session: AsyncSession, created: Sequence[Acknowledgement]) -> list[Any]:
        """The outbox rows and message records acknowledging these new tickets (written: their
        numbers are in them). The mailbox's texts — or the reply template a routing rule named,
        in the customer's language — render in the render workers, all in one call; one that
        fails (or a template since deleted) is replaced by the built-in text, so the customer
        still hears from us."""
        contexts = [self._ack_context(a.ticket, a.customer, a.mail) for a in created]
        languages = [a.customer.language or guess_language(f"{a.mail.subject}\n{a.mail.text}") for a in created]
        where = f"mailbox {self.mailbox.name!r} acknowledgement"
        jobs: list[TemplateJob] = []
        html_bodies: list[bool] = []  # the body came from an HTML reply template: sent as its text
        templates: dict[tuple[str, str], ReplyTemplate | None] = {}
        for ack, context, language in zip(created, contexts, languages, strict=True):
            template = None
            if ack.template is not None:
                key = (ack.template, language or "")
                if key not in templates:
                    templates[key] = await template_in_language(session, ack.template, language)
                template = templates[key]
            if template is not None:
                name = f"acknowledgement template {template.name!r}"
                jobs += [TemplateJob(f"the subject of {name}", template.subject, context),
                         TemplateJob(f"the body of {name}", template.body, context, template.is_html)]
                html_bodies.append(template.is_html)
            else:
                html_bodies.append(False)
                if ack.template is not None:
                    log.warning("%s: no reply template named %r, the mailbox's text is used", where, ack.template)
                jobs += [TemplateJob(f"{where} subject", self._ack_source(self.mailbox.acknowledgement_subject, language), context),
                         TemplateJob(f"{where} body", self._ack_source(self.mailbox.acknowledgement_body, language), context)]
        results = await self.renderer.try_render(jobs)
        failed = [i for i, r in enumerate(results) if not isinstance(r, str)]
        if failed:
            log.warning("%s failed for %d messages, the built-in text is used: %s",
                        where, len(failed), results[failed[0]])
            builtin = await self.renderer.try_render([
                TemplateJob(f"built-in acknowledgement {'subject' if i % 2 == 0 else 'body'}",
                            translate(languages[i // 2], DEFAULT_ACK_SUBJECT if i % 2 == 0 else DEFAULT_ACK_BODY),
                            contexts[i // 2])
                for i in failed])
            for i, result in zip(failed, builtin, strict=True):
                results[i] = result if isinstance(result, str) else _plain_ack(contexts[i // 2], i % 2 == 0)
        rows: list[Any] = []
        for index, ack in enumerate(created):
            ticket, p = ack.ticket, ack.mail
            subject, body = str(results[2 * index]), str(results[2 * index + 1])
            if html_bodies[index] and 2 * index + 1 not in failed:
                body = html_to_text(body)
            outgoing = compose_outgoing(
                self.clock,
                ticket=ticket,
                recipient=p.sender,
                subject=" ".join(subject.split()),
                body=body,
                domain=self.domain,
                dedup_key=f"ack:{p.message_id or p.content_hash}",
                in_reply_to=p.message_id,
                references=p.references,
                extra_headers={"Auto-Submitted": "auto-replied", "X-Loop": self.mailbox.address},
                payload={"kind": "acknowledgement", "mailbox": self.mailbox.name,
                         **({"template": ack.template} if ack.template is not None else {})},
            )
            rows += [outgoing.outbox, outgoing.record]
        return rows

    @staticmethod
    def _ack_source(source: str, language: str | None) -> str:
        """The built-in texts in the customer's language; a mailbox's own texts as written."""
        return translate(language, source) if source in (DEFAULT_ACK_SUBJECT, DEFAULT_ACK_BODY) else source

    def _ack_context(self, ticket: Ticket, customer: Customer, p: ParsedMail) -> dict[str, Any]:
        return {
            "ticket": {"tag": ticket.tag, "number": ticket.number, "subject": ticket.subject},
            "customer": {"name": customer.name, "tier": customer.tier, "language": customer.language},
            "agent": {},  # reply templates may name one; nobody has answered yet
            "subject": p.subject,
            "mailbox": {"name": self.mailbox.name, "address": self.mailbox.address},
        }


def _plain_ack(context: dict[str, Any], subject: bool) -> str:
    """The last resort when even the built-in template cannot render (workers unavailable)."""
    tag = context["ticket"]["tag"]
    return f"[{tag}] {context['subject']}" if subject else f"Your message is now ticket {tag}.\n"


class BatchContext:
    """What a batch needs to know, read in a few queries up front instead of several per mail.

    It also remembers the batch's own mail, so a reply and its original in one batch
    (in either order) meet on one ticket, and a mail twice in a batch counts once.
    """

    def __init__(self, importer: MailImporter) -> None:
        self.importer = importer
        self.known_ids: set[str] = set()
        self.known_hashes: set[str] = set()
        # Message-ID -> ticket, for mail we hold; a Ticket opened in this batch has no id until written.
        self.ticket_of: dict[str, int | Ticket] = {}
        self.replied_by: dict[str, int | Ticket] = {}  # a Message-ID we have not seen -> ticket of a reply to it
        self.customers: dict[str, Customer] = {}
        self.auto_replies: Counter[str] = Counter()
        self.pending: list[Any] = []
        self.acknowledgements: list[Acknowledgement] = []
        self.results: list[tuple[IngestResult, MailMessage]] = []
        self.tickets: list[Ticket] = []
        self._loaded: dict[int, Ticket] = {}  # the tickets replies join, by id, as loaded for this batch
        self.opened: set[int] = set()  # id() of the tickets this batch opened (never merged yet)

    async def load(self, session: AsyncSession, mails: Sequence[ParsedMail]) -> None:
        ids = {p.message_id for p in mails if p.message_id}
        hashes = {p.content_hash for p in mails}
        refs = {r for p in mails for r in p.thread_refs}
        if ids or hashes:
            known = select(MailMessage.message_id, MailMessage.content_hash).where(
                MailMessage.message_id.in_(ids) | MailMessage.content_hash.in_(hashes)
            )
            for mid, digest in (await session.execute(known)).all():
                if mid:
                    self.known_ids.add(mid)
                if digest:
                    self.known_hashes.add(digest)
        if refs:
            threads = select(MailMessage.message_id, MailMessage.ticket_id).where(
                MailMessage.message_id.in_(refs), MailMessage.ticket_id.is_not(None)
            )
            self.ticket_of.update({mid: tid for mid, tid in (await session.execute(threads)).all() if mid and tid})
        if ids:
            replies = (
                select(MailReference.ref, MailMessage.ticket_id)
                .join(MailMessage, MailReference.message_row_id == MailMessage.id)
                .where(MailReference.ref.in_(ids), MailMessage.ticket_id.is_not(None))
                .order_by(MailMessage.id.desc())
            )
            self.replied_by.update({ref: tid for ref, tid in (await session.execute(replies)).all() if tid})
        await self._load_customers(session, {p.sender: p.sender_name for p in mails})
        await self.importer.desk.prefetch(session, [c.id for c in self.customers.values()])
        joined = {t for t in (*self.ticket_of.values(), *self.replied_by.values()) if isinstance(t, int)}
        if joined:  # the tickets replies join, held here (the identity map holds them weakly)
            self.tickets = list((await session.scalars(select(Ticket).where(Ticket.id.in_(joined)))).unique())
            self._loaded = {t.id: t for t in self.tickets}
        if self.importer.mailbox.acknowledge:
            since = self.importer.clock.now() - timedelta(hours=24)
            counts = (
                select(OutboxMessage.recipient, func.count())
                .where(
                    OutboxMessage.recipient.in_(list(self.customers)),
                    OutboxMessage.dedup_key.like("ack:%"),
                    OutboxMessage.created_at >= since,
                )
                .group_by(OutboxMessage.recipient)
            )
            self.auto_replies.update({r: n for r, n in (await session.execute(counts)).all()})

    async def _load_customers(self, session: AsyncSession, senders: dict[str, str]) -> None:
        """Known customers by address; the others created together, tier "new", audited as the system."""
        known = select(CustomerEmail.address, Customer).join(Customer, Customer.id == CustomerEmail.customer_id).where(
            CustomerEmail.address.in_(list(senders))
        )
        self.customers.update({address: customer for address, customer in (await session.execute(known)).all()})
        new = {
            address: Customer(name=(name or address.split("@", 1)[0])[:200], tier=Tier.NEW.value, tags=[], notes="")
            for address, name in senders.items()
            if address not in self.customers
        }
        if not new:
            return
        for customer in new.values():  # nothing to load later in this batch
            set_committed_value(customer, "phones", [])
            set_committed_value(customer, "emails", [])
        session.add_all(new.values())
        await session.flush()
        self.customers.update(new)
        now = self.importer.clock.now()
        await session.execute(insert(CustomerEmail), [{"customer_id": c.id, "address": a} for a, c in new.items()])
        await session.execute(
            insert(AuditLog),
            [
                {
                    "actor_id": None,
                    "action": "customer.create",
                    "entity": "customer",
                    "entity_id": str(c.id),
                    "before": None,
                    "after": {"id": c.id, "name": c.name, "tier": c.tier, "emails": [a], "source": "email"},
                    "at": now,
                }
                for a, c in new.items()
            ],
        )

    def is_duplicate(self, p: ParsedMail) -> bool:
        return (p.message_id is not None and p.message_id in self.known_ids) or p.content_hash in self.known_hashes

    async def thread(self, session: AsyncSession, p: ParsedMail) -> tuple[int | None, str | None]:
        """The ticket this mail belongs to, and how we know: references, a reply that came first, the
        tag; a ticket since merged into another stands for the one it was merged into.

        A ticket this batch opened, or one it loaded that was not merged, stands for itself:
        no query. (Each such query flushed the batch's pending rows first: a round trip or
        several per reply, the most of what one mailbox's import waited on.)"""
        ticket, how = self._threaded_ticket(p)
        if ticket is None:
            ticket_id, how = await self._thread_by_tag(session, p)
        else:
            ticket_id = await ticket_id_of(session, ticket)
            if isinstance(ticket, Ticket) and self._stands_for_itself(ticket):
                return ticket_id, how
        if ticket_id is not None:
            loaded = self._loaded.get(ticket_id)
            if loaded is None or not self._stands_for_itself(loaded):
                ticket_id = await survivor(session, ticket_id)
        return ticket_id, how

    def _stands_for_itself(self, ticket: Ticket) -> bool:
        """Opened by this batch, or loaded by it and not merged (read without a query)."""
        if id(ticket) in self.opened:
            return True
        known = inspect(ticket).dict
        return "merged_into_id" in known and known["merged_into_id"] is None

    def _threaded_ticket(self, p: ParsedMail) -> tuple[int | Ticket | None, str | None]:
        for ref in p.thread_refs:  # nearest first: In-Reply-To, then References from the end
            if ref in self.ticket_of:
                return self.ticket_of[ref], "references"
        if p.message_id and p.message_id in self.replied_by:
            return self.replied_by[p.message_id], "reply-arrived-first"
        return None, None

    async def _thread_by_tag(self, session: AsyncSession, p: ParsedMail) -> tuple[int | None, str | None]:
        for number in ticket_number_in(p.subject):
            ticket_id = ticket_id_of_number(number)
            if ticket_id is not None and await session.get(Ticket, ticket_id) is not None:
                return ticket_id, "subject-tag"
        return None, None

    def imported(self, record: MailMessage, p: ParsedMail, result: IngestResult) -> None:
        self.pending.append(record)
        self.results.append((result, record))
        self.known_hashes.add(p.content_hash)
        ticket = record.ticket
        if p.message_id:
            self.known_ids.add(p.message_id)
            if ticket is not None:
                self.ticket_of[p.message_id] = ticket
        for ref in p.thread_refs:
            if ticket is not None and ref not in self.ticket_of:
                self.replied_by.setdefault(ref, ticket)

    def may_auto_reply(self, sender: str) -> bool:
        if self.auto_replies[sender] >= self.importer.mailbox.auto_replies_per_day:
            log.info("mailbox %s: no acknowledgement to %s (cap reached)", self.importer.mailbox.name, sender)
            return False
        self.auto_replies[sender] += 1
        return True

    async def finish(self, session: AsyncSession) -> None:
        """Write the batch's rows together: tickets, entries, messages (one INSERT per table),
        then the acknowledgements, which name the new tickets' numbers."""
        session.add_all(self.pending)
        self.pending = []
        await session.flush()
        for result, record in self.results:
            result.ticket_id, result.entry_id, result.message_row_id = record.ticket_id, record.entry_id, record.id
        self.results = []
        if self.acknowledgements:
            session.add_all(await self.importer.acknowledgements(session, self.acknowledgements))
            self.acknowledgements = []
            await session.flush()


async def retry_quarantined(importer: MailImporter, session: AsyncSession, row: QuarantinedMail) -> IngestResult:
    """Parse a held message again (without the size limit: ops chose to let it in) and import it."""
    try:
        parsed = parse_message(row.raw)
    except UnparseableMail as exc:
        row.attempts += 1
        row.error = str(exc)[:4000]
        return IngestResult(row.uid, "quarantined", quarantine_id=row.id)
    batch = BatchContext(importer)
    await batch.load(session, [parsed])
    result = await importer.import_parsed(session, row.uidvalidity, FetchedMail(row.uid, row.raw), parsed, batch)
    await batch.finish(session)
    row.attempts += 1
    row.status = QuarantineStatus.RELEASED
    row.resolved_at = importer.clock.now()
    row.message_row_id = result.message_row_id
    result.quarantine_id = row.id
    return result
