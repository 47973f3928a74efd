"""Attachments of received mail and of our replies, handed out as downloads of a safe type."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.records import MailAttachment, MailMessage
from core.auth import Actor
from core.errors import NotFound
from core.records import TimelineEntry
from routing.desk import TicketDesk

# Types a browser shows without running anything; everything else is served as bytes.
SAFE_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
     "application/zip", "application/msword", "application/vnd.ms-excel",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
)


@dataclasses.dataclass(frozen=True, slots=True)
class Download:
    filename: str
    content_type: str
    data: bytes


def safe_type(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return base if base in SAFE_TYPES else "application/octet-stream"


async def attachment_download(session: AsyncSession, desk: TicketDesk, actor: Actor, entry_id: int, index: int) -> Download:
    """The ``index``-th attachment of the mail behind a timeline entry, received or sent (who may
    see the ticket may download)."""
    entry = await session.get(TimelineEntry, entry_id)
    if entry is None:
        raise NotFound("no such timeline entry", {"id": entry_id})
    await desk.get(session, actor, entry.ticket_id)
    stmt = (
        select(MailAttachment)
        .join(MailMessage, MailMessage.id == MailAttachment.message_row_id)
        .where(MailMessage.entry_id == entry_id)
        .order_by(MailAttachment.id)
        .offset(max(index, 0))
        .limit(1)
    )
    found = (await session.execute(stmt)).scalars().first()
    if found is None or index < 0:
        raise NotFound("no such attachment", {"entry_id": entry_id, "index": index})
    return Download(found.filename, safe_type(found.content_type), found.data)
