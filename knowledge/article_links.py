"""Articles as the reply composer offers them: the text to insert, and the public link.

Only a published article has a public link (the help centre, ``/help/{id}``, shows nothing
else); an unpublished one can still be pasted as text, since the agent may quote it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.records import Role
from knowledge.articles import search_articles
from knowledge.records import KnowledgeArticle

MAX_OFFERED = 10


def public_link(base_url: str, article: KnowledgeArticle) -> str | None:
    """The help centre's address of the article for customers, or None while unpublished."""
    if not article.published:
        return None
    return f"{base_url.rstrip('/')}/help/{article.id}"


async def articles_to_insert(
    session: AsyncSession, actor: Actor, query: str, base_url: str, language: str | None = None
) -> list[dict[str, Any]]:
    """The best articles for ``query``: title, the body to insert, the public link (or None)."""
    actor.require(Role.AGENT)
    found = await search_articles(session, actor, query, language, limit=MAX_OFFERED)
    return [{"id": a.id, "title": a.title, "body": a.body, "language": a.language, "published": a.published,
             "link": public_link(base_url, a)} for a in found]
