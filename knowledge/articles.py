"""Knowledge-base articles: ops write them, agents read them all, customers read the
published ones on the public help pages. Search uses the matcher's normalisation, so a
query in traditional Chinese, without accents or in another word form still finds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import utcnow
from core.errors import NotFound
from core.keyword_matcher import KeywordMatcher, TemplateKeywords
from core.normalize import has_cjk, normalize
from core.records import Role
from knowledge.drafts import ArticleDraft
from knowledge.records import KnowledgeArticle

TITLE_FACTOR = 3.0


def article_dict(article: KnowledgeArticle) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "language": article.language,
        "tags": list(article.tags or []),
        "published": article.published,
        "updated_at": article.updated_at.isoformat() if article.updated_at else None,
    }


def _apply(article: KnowledgeArticle, draft: ArticleDraft, actor: Actor) -> None:
    article.title = draft.title
    article.body = draft.body
    article.language = draft.language
    article.tags = list(draft.tags)
    article.published = draft.published
    article.search_text = normalize(draft.title) + "\n" + normalize(draft.body + " " + " ".join(draft.tags))
    article.updated_at = utcnow()
    article.updated_by = actor.user_id


async def get_article(session: AsyncSession, actor: Actor | None, article_id: int) -> KnowledgeArticle:
    """Staff read any article; the public (``actor`` None) only published ones."""
    article = await session.get(KnowledgeArticle, article_id)
    if actor is not None:
        actor.require(Role.AGENT, Role.OPS)
    if article is None or (actor is None and not article.published):
        raise NotFound("no such article", {"id": article_id})
    return article


async def create_article(session: AsyncSession, actor: Actor, draft: ArticleDraft) -> KnowledgeArticle:
    actor.require(Role.OPS)
    article = KnowledgeArticle()
    _apply(article, draft, actor)
    session.add(article)
    await session.flush()
    record_change(session, actor, "create", "knowledge_article", article.id, None, article_dict(article))
    return article


async def update_article(
    session: AsyncSession, actor: Actor, article_id: int, draft: ArticleDraft
) -> KnowledgeArticle:
    actor.require(Role.OPS)
    article = await get_article(session, actor, article_id)
    before = article_dict(article)
    _apply(article, draft, actor)
    await session.flush()
    record_change(session, actor, "update", "knowledge_article", article.id, before, article_dict(article))
    return article


async def delete_article(session: AsyncSession, actor: Actor, article_id: int) -> None:
    actor.require(Role.OPS)
    article = await get_article(session, actor, article_id)
    before = article_dict(article)
    await session.delete(article)
    record_change(session, actor, "delete", "knowledge_article", article_id, before, None)


def _query_terms(query: str) -> tuple[tuple[str, float], ...]:
    """Words of the query; a Chinese run (no spaces between its words) also counts by its
    two-character pieces, so "退款时间" finds an article about "退款" and "时间"."""
    terms: dict[str, float] = {}
    for word in normalize(query).split():
        terms[word] = 1.0
        if has_cjk(word) and len(word) > 2:
            for i in range(len(word) - 1):
                terms[word[i : i + 2]] = 1.0
    return tuple(terms.items())


def language_variants(language: str) -> tuple[str, ...]:
    """The tags an article in ``language`` may carry: the product says ``zh_CN`` where an article
    author wrote ``zh`` or ``zh-CN``, so the help centre's ``?lang=zh_CN`` and ``?lang=zh`` find the same."""
    name = language.strip().replace("-", "_")
    base = name.split("_")[0]
    return tuple(dict.fromkeys((name, name.replace("_", "-"), base)))


async def search_articles(
    session: AsyncSession,
    actor: Actor | None,
    query: str = "",
    language: str | None = None,
    limit: int = 20,
) -> list[KnowledgeArticle]:
    """Best matches first (a query term found in the title counts three times); no query
    lists by title. The public (``actor`` None) sees published articles only."""
    if actor is not None:
        actor.require(Role.AGENT, Role.OPS)
    stmt = select(KnowledgeArticle).order_by(KnowledgeArticle.title)
    if actor is None:
        stmt = stmt.where(KnowledgeArticle.published.is_(True))
    if language:
        stmt = stmt.where(KnowledgeArticle.language.in_(("", *language_variants(language))))
    articles = list(await session.scalars(stmt))
    terms = _query_terms(query)
    if not terms:
        return articles[:limit]
    matcher = KeywordMatcher([TemplateKeywords(0, "query", "", terms)])
    scored: list[tuple[float, int, KnowledgeArticle]] = []
    for position, article in enumerate(articles):
        title, _, body = article.search_text.partition("\n")
        in_title = matcher.found(title)
        in_body = matcher.found(body) - in_title
        score = TITLE_FACTOR * len(in_title) + len(in_body)
        if score:
            scored.append((-score, position, article))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [article for _, _, article in scored[:limit]]
