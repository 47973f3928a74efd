"""The template revision: a counter every template change moves, in the same transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.records import TemplateRevision

_ROW = 1


async def bump_revision(session: AsyncSession) -> None:
    result = await session.execute(
        update(TemplateRevision)
        .where(TemplateRevision.id == _ROW)
        .values(revision=TemplateRevision.revision + 1)
    )
    if getattr(result, "rowcount", 0) == 0:
        session.add(TemplateRevision(id=_ROW, revision=1))
        await session.flush()


async def current_revision(session: AsyncSession) -> int:
    value = await session.scalar(select(TemplateRevision.revision).where(TemplateRevision.id == _ROW))
    return int(value or 0)
