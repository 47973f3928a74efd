"""The quarantine, as ops see it: what could not be imported, why, and a retry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ingest import MailImporter, retry_quarantined
from channels.mail_batch import IngestResult
from channels.records import QuarantinedMail, QuarantineStatus
from core.auth import Actor
from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.records import Role
from routing.desk import TicketDesk


def quarantine_dict(row: QuarantinedMail, with_raw: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "mailbox": row.mailbox,
        "uidvalidity": row.uidvalidity,
        "uid": row.uid,
        "size": row.size,
        "error": row.error,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "message_row_id": row.message_row_id,
    }
    if with_raw:
        data["raw_preview"] = row.raw[:20_000].decode("utf-8", errors="replace")
    return data


class QuarantineDesk:
    def __init__(self, db: Database, desk: TicketDesk, importers: dict[str, MailImporter]) -> None:
        self.db = db
        self.desk = desk
        self.importers = importers

    async def list(self, session: AsyncSession, actor: Actor, status: str | None = QuarantineStatus.HELD, limit: int = 200) -> list[QuarantinedMail]:
        actor.require(Role.OPS)
        stmt = select(QuarantinedMail).order_by(QuarantinedMail.id.desc()).limit(min(max(limit, 1), 1000))
        if status:
            stmt = stmt.where(QuarantinedMail.status == status)
        return list((await session.execute(stmt)).scalars())

    async def get(self, session: AsyncSession, actor: Actor, quarantine_id: int) -> QuarantinedMail:
        actor.require(Role.OPS)
        row = await session.get(QuarantinedMail, quarantine_id)
        if row is None:
            raise NotFound("no such quarantined message", {"id": quarantine_id})
        return row

    async def retry(self, actor: Actor, quarantine_id: int) -> IngestResult:
        """Import the held message again; it stays held (with the new error) if it still fails."""
        async with self.db.session() as session:
            row = await self.get(session, actor, quarantine_id)
            if row.status != QuarantineStatus.HELD:
                raise Conflict("this message was already released", {"id": quarantine_id})
            importer = self.importers.get(row.mailbox)
            if importer is None:
                raise InvalidInput("the mailbox of this message is no longer configured", {"mailbox": row.mailbox})
            result = await retry_quarantined(importer, session, row)
            await self.desk.commit_and_publish(session)
        return result
