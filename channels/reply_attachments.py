"""Files an agent attaches to a reply: checked against the size cap, stored like received ones.

An outgoing attachment becomes a ``MailAttachment`` row of the reply's own ``MailMessage``
record, in the same transaction as the timeline entry and the outbox row, exactly as a
received mail's attachments are (``channels.records``): the timeline lists it, the same
download route serves it (``channels.attachments``), a database backup holds it, and the
SMTP delivery reads it back from there when the outbox worker sends the reply.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.mime import safe_filename
from channels.records import MailAttachment, MailMessage
from core.errors import InvalidInput

MAX_FILES = 20
# What a browser says a file is, if it looks like a MIME type at all; otherwise bytes.
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def content_type_of(declared: str | None) -> str:
    base = (declared or "").split(";", 1)[0].strip().lower()
    return base if _CONTENT_TYPE.fullmatch(base) else "application/octet-stream"


def check_files(files: list[OutgoingFile], max_total_bytes: int) -> list[OutgoingFile]:
    """The files with safe names and types, or ``InvalidInput`` naming the ``attachments`` field:
    too many, or together larger than the cap (``details`` say how large, and the limit)."""
    if len(files) > MAX_FILES:
        raise InvalidInput("too many attachments", {"field": "attachments", "max_files": MAX_FILES})
    total = sum(f.size for f in files)
    if total > max_total_bytes:
        raise InvalidInput("the attachments are too large",
                           {"field": "attachments", "size": total, "max_bytes": max_total_bytes})
    return [OutgoingFile(safe_filename(f.filename), content_type_of(f.content_type), f.data) for f in files]


def stored(files: list[OutgoingFile]) -> list[MailAttachment]:
    """The rows to hang on the reply's ``MailMessage`` record."""
    return [MailAttachment(filename=f.filename, content_type=f.content_type, size=f.size, data=f.data) for f in files]


def listed(files: list[OutgoingFile]) -> list[dict[str, object]]:
    """What the timeline entry shows of them (the index is the download route's)."""
    return [{"index": n, "filename": f.filename, "content_type": f.content_type, "size": f.size}
            for n, f in enumerate(files)]


async def files_of_message(session: AsyncSession, message_id: str) -> list[OutgoingFile]:
    """The attachments stored with our outgoing message ``message_id``, in the order attached."""
    stmt = (
        select(MailAttachment)
        .join(MailMessage, MailMessage.id == MailAttachment.message_row_id)
        .where(MailMessage.message_id == message_id, MailMessage.direction == "out")
        .order_by(MailAttachment.id)
    )
    return [OutgoingFile(a.filename, a.content_type, a.data) for a in (await session.scalars(stmt))]
