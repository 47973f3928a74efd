"""Deflections: a help article that answered a question before it became a ticket.

The request form suggests published articles from what the customer types; "this solved my
question" on one counts here, per article, so the help centre's value shows in numbers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import NotFound
from core.records import Role
from knowledge.records import HelpDeflection, KnowledgeArticle


async def count_deflection(session: AsyncSession, article_id: int, now: datetime) -> int:
    """One more deflection for a published article (the count after it); an unpublished or
    unknown article is a ``NotFound``, as on the public pages."""
    article = await session.get(KnowledgeArticle, article_id)
    if article is None or not article.published:
        raise NotFound("no such article", {"id": article_id})
    changed = await session.execute(
        update(HelpDeflection).where(HelpDeflection.article_id == article_id)
        .values(count=HelpDeflection.count + 1, last_at=now)
    )
    if not getattr(changed, "rowcount", 0):
        session.add(HelpDeflection(article_id=article_id, count=1, last_at=now))
        await session.flush()
    count = await session.scalar(select(HelpDeflection.count).where(HelpDeflection.article_id == article_id))
    return int(count or 0)


async def deflection_counts(session: AsyncSession) -> dict[int, int]:
    """Article id → deflections, for the reports."""
    rows = await session.execute(select(HelpDeflection.article_id, HelpDeflection.count))
    return {article_id: count for article_id, count in rows.all()}


async def deflection_report(session: AsyncSession, actor: Actor) -> list[tuple[str, int]]:
    """Article title and deflections (since the counting began), most first, for the reports."""
    actor.require(Role.SUPERVISOR)
    rows = await session.execute(
        select(KnowledgeArticle.title, HelpDeflection.count)
        .join(KnowledgeArticle, KnowledgeArticle.id == HelpDeflection.article_id)
        .order_by(HelpDeflection.count.desc(), KnowledgeArticle.title)
    )
    return [(title, int(count)) for title, count in rows.all()]
