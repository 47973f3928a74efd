"""Retention: closed tickets' bodies and attachments, and call records' numbers, removed after
the periods admins set (``privacy.policy``), by a scheduled supervised job.

Work is taken in batches with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer),
so several server instances share it without doing a ticket twice; each batch is its own
transaction. A purged ticket keeps its row, status, times and the structure of its timeline
(counts and reports unchanged) and is marked in ``ticket_purges`` so it is not taken again.
``dry_run`` counts what the next runs would touch, for the admin page and the CLI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.records import MailAttachment, MailMessage, SavedReplyDraft
from core.db import Database
from core.records import EntryKind, SearchDocument, Ticket, TicketStatus, TimelineEntry
from core.supervisor import SupervisedTask
from cti.records import CallRecord
from privacy.erasure import scrub_json
from privacy.policy import PrivacySettings, read_settings
from privacy.records import TicketPurge

log = logging.getLogger(__name__)

BATCH = 200
RUN_EVERY_S = 3600.0
CLOSED = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)
# Entries whose payload is what someone wrote or said: emptied, their kind and keys kept.
BODY_KINDS = (EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value, EntryKind.NOTE.value, EntryKind.CALL.value)


@dataclasses.dataclass(frozen=True)
class RetentionCount:
    tickets: int = 0
    attachments: int = 0
    calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _due_tickets(cutoff: datetime) -> Any:
    return select(Ticket.id).where(
        Ticket.status.in_(CLOSED), func.coalesce(Ticket.solved_at, Ticket.updated_at) < cutoff,
        ~exists().where(TicketPurge.ticket_id == Ticket.id))


def _due_calls(cutoff: datetime) -> Any:
    return select(CallRecord.id).where(CallRecord.started_at < cutoff,
                                       or_(CallRecord.number != "", CallRecord.caller_name != ""))


async def dry_run(session: AsyncSession, settings: PrivacySettings, now: datetime) -> RetentionCount:
    """What the job would purge now, changing nothing."""
    tickets = attachments = calls = 0
    if settings.ticket_days:
        due = _due_tickets(now - timedelta(days=settings.ticket_days)).subquery()
        tickets = await session.scalar(select(func.count()).select_from(due)) or 0
        attachments = await session.scalar(
            select(func.count()).select_from(MailAttachment).join(MailMessage, MailMessage.id == MailAttachment.message_row_id)
            .where(MailMessage.ticket_id.in_(select(due.c.id)))) or 0
    if settings.call_days:
        due_calls = _due_calls(now - timedelta(days=settings.call_days)).subquery()
        calls = await session.scalar(select(func.count()).select_from(due_calls)) or 0
    return RetentionCount(tickets, attachments, calls)


async def _purge_tickets(session: AsyncSession, cutoff: datetime, now: datetime) -> int:
    ids = list((await session.execute(
        _due_tickets(cutoff).order_by(Ticket.id).limit(BATCH).with_for_update(skip_locked=True, of=Ticket))).scalars())
    if not ids:
        return 0
    entries = (await session.execute(select(TimelineEntry.id, TimelineEntry.payload).where(
        TimelineEntry.ticket_id.in_(ids), TimelineEntry.kind.in_(BODY_KINDS)))).all()
    for entry_id, payload in entries:
        await session.execute(update(TimelineEntry).where(TimelineEntry.id == entry_id)
                              .values(payload=scrub_json(payload or {}, set())))
    messages = select(MailMessage.id).where(MailMessage.ticket_id.in_(ids))
    await session.execute(delete(MailAttachment).where(MailAttachment.message_row_id.in_(messages)))
    await session.execute(update(MailMessage).where(MailMessage.ticket_id.in_(ids)).values(raw=None))
    await session.execute(delete(SavedReplyDraft).where(SavedReplyDraft.ticket_id.in_(ids)))
    await session.execute(delete(SearchDocument).where(SearchDocument.kind == "entry",
                                                       SearchDocument.ticket_id.in_(ids)))
    await session.execute(insert(TicketPurge), [{"ticket_id": i, "purged_at": now} for i in ids])
    return len(ids)


async def _purge_calls(session: AsyncSession, cutoff: datetime) -> int:
    ids = list((await session.execute(
        _due_calls(cutoff).order_by(CallRecord.id).limit(BATCH).with_for_update(skip_locked=True))).scalars())
    if ids:
        await session.execute(update(CallRecord).where(CallRecord.id.in_(ids)).values(number="", caller_name=""))
    return len(ids)


async def run_retention(db: Database, now: datetime, settings: PrivacySettings | None = None) -> RetentionCount:
    """Purge everything due, batch by batch (each batch committed on its own)."""
    if settings is None:
        async with db.session() as session:
            settings = await read_settings(session)
    tickets = calls = 0
    if settings.ticket_days:
        cutoff = now - timedelta(days=settings.ticket_days)
        while True:
            async with db.transaction() as session:
                done = await _purge_tickets(session, cutoff, now)
            tickets += done
            if done < BATCH:
                break
    if settings.call_days:
        cutoff = now - timedelta(days=settings.call_days)
        while True:
            async with db.transaction() as session:
                done = await _purge_calls(session, cutoff)
            calls += done
            if done < BATCH:
                break
    if tickets or calls:
        log.info("retention: purged %d tickets' contents and %d call records", tickets, calls)
    return RetentionCount(tickets=tickets, calls=calls)


class RetentionJob:
    """The scheduled run: once at start, then every ``RUN_EVERY_S``."""

    def __init__(self, db: Database, now: Any, every_s: float = RUN_EVERY_S) -> None:
        self.db = db
        self.now = now
        self.every_s = every_s

    async def run(self, task: SupervisedTask) -> None:
        while True:
            await run_retention(self.db, self.now())
            task.healthy()
            await asyncio.sleep(self.every_s)
