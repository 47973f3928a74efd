"""From raw mail to ticket entries: the pipeline after the IMAP fetch.

For a batch of fetched messages, in one transaction: quarantine what cannot be
parsed, drop duplicates (Message-ID, then content hash), thread (references we
know, replies that arrived first, the ticket tag), find or create the customer,
hand the contact to the desk, store suggestions, apply the loop guard, queue the
acknowledgement, and advance the mailbox checkpoint — all committed together, so
the checkpoint never runs ahead of the tickets. If the batch fails as a whole it
is replayed one message per transaction, and a message that still fails alone is
quarantined with its error: it never blocks the mail behind it.

What the messages of one batch share, and the rows it writes at its end, is
``channels.mail_batch.BatchContext``.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.base.i18n import guess_language, translate
from channels.charsets import without_lone_surrogates
from channels.mail_batch import Acknowledgement, BatchContext, IngestResult
from channels.mime import ParsedMail, UnparseableMail, content_hash, html_to_text, parse_message
from channels.outgoing import MailServices, compose_outgoing
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
from core.records import Customer, EntryKind, Ticket
from core.template_workers import TemplateJob
from knowledge.records import ReplyTemplate
from knowledge.templates import template_in_language
from routing import Contact
from routing.contact import suggested_template

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class FetchedMail:
    uid: int | None
    raw: bytes


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
    def new_batch(self) -> BatchContext:
        """What one batch shares, read through this importer's desk for its mailbox; its new
        tickets are acknowledged by ``acknowledgements``."""
        return BatchContext(self.desk, self.mailbox, self.clock, self.acknowledgements)

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
                batch = self.new_batch()
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
                batch = self.new_batch()
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


async def retry_quarantined(importer: MailImporter, session: AsyncSession, row: QuarantinedMail) -> IngestResult:
    """Parse a held message again (without the size limit: ops chose to let it in) and import it."""
    try:
        parsed = parse_message(row.raw)
    except UnparseableMail as exc:
        row.attempts += 1
        row.error = str(exc)[:4000]
        return IngestResult(row.uid, "quarantined", quarantine_id=row.id)
    batch = importer.new_batch()
    await batch.load(session, [parsed])
    result = await importer.import_parsed(session, row.uidvalidity, FetchedMail(row.uid, row.raw), parsed, batch)
    await batch.finish(session)
    row.attempts += 1
    row.status = QuarantineStatus.RELEASED
    row.resolved_at = importer.clock.now()
    row.message_row_id = result.message_row_id
    result.quarantine_id = row.id
    return result
