"""The public interface of reply suggestions.

Channels call ``TemplateLibrary.suggest`` for every incoming mail,
``TemplateLibrary.render`` when an agent picks a suggestion, and
``TemplateLibrary.record_use`` when the reply goes out.

The library keeps one compiled ``KeywordMatcher``. It looks at the template revision
in the database at most every ``recheck_seconds`` (so other server instances' edits
arrive within that time) and at once after ``invalidate()``, which the management
pages call after they commit a change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.keyword_matcher import KeywordMatcher, Suggestion, TemplateKeywords
from core.template_workers import TemplateRenderer
from knowledge.records import ReplyTemplate, TemplateUse
from knowledge.rendering import render_reply
from knowledge.revision import current_revision

__all__ = ["RenderedReply", "Suggestion", "TemplateLibrary"]


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedReply:
    template_id: int
    subject: str
    body: str
    is_html: bool = False


def template_keywords(template: ReplyTemplate) -> TemplateKeywords:
    return TemplateKeywords(
        template_id=template.id,
        name=template.name,
        language=template.language or "",
        keywords=tuple(
            (str(k["phrase"]), float(k.get("weight", 1.0))) for k in template.keywords or []
        ),
        exclusions=tuple(str(e) for e in template.exclusions or []),
        usage_count=template.usage_count or 0,
        category=template.category or "",
    )


class TemplateLibrary:
    """Ranks and renders reply templates; holds a compiled matcher reloaded on change."""

    def __init__(
        self, recheck_seconds: float = 1.0, monotonic: Callable[[], float] = time.monotonic,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        # Renders run in worker processes (started on first use); the server passes its own pool.
        self.renderer = renderer or TemplateRenderer()
        self.recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._matcher: KeywordMatcher | None = None
        self._revision: int | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Look at the database on the next suggestion (call after committing a change)."""
        self._checked_at = -math.inf

    async def matcher(self, session: AsyncSession) -> KeywordMatcher:
        """The compiled matcher, rebuilt only when the template revision has moved."""
        if self._matcher is not None and self._monotonic() - self._checked_at < self.recheck_seconds:
            return self._matcher
        async with self._lock:
            checked = self._monotonic()
            if self._matcher is not None and checked - self._checked_at < self.recheck_seconds:
                return self._matcher
            revision = await current_revision(session)
            if self._matcher is None or revision != self._revision:
                rows = await session.scalars(
                    select(ReplyTemplate).where(ReplyTemplate.active.is_(True)).order_by(ReplyTemplate.id)
                )
                specs = [template_keywords(t) for t in rows]
                # Compiling a thousand templates takes a few hundred milliseconds: off the loop.
                self._matcher = await asyncio.to_thread(KeywordMatcher, specs)
                self._revision = revision
            self._checked_at = checked
            return self._matcher

    async def suggest(
        self, session: AsyncSession, subject: str, body: str, language: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """The best templates for a mail, best first, with the keywords that matched.

        ``language`` (e.g. "zh", "es-MX") keeps templates of that language and those
        written for any language.
        """
        matcher = await self.matcher(session)
        return matcher.match(subject, body, language, limit)

    async def render(self, session: AsyncSession, template_id: int, context: dict[str, Any]) -> RenderedReply:
        """Subject and body for ``context`` (``customer``, ``ticket``, ``agent`` dicts,
        see ``knowledge.rendering.reply_context``); ``InvalidInput`` if it cannot render."""
        template = await session.get(ReplyTemplate, template_id)
        if template is None:
            raise NotFound("no such template", {"id": template_id})
        subject, body = await render_reply(
            self.renderer, template.subject, template.body, template.is_html, context, name=f"template {template.name!r}")
        return RenderedReply(template.id, subject, body, template.is_html)

    async def record_use(
        self, session: AsyncSession, template_id: int, ticket_id: int | None, agent_id: int | None
    ) -> None:
        """Note that a reply went out from this template, in the caller's transaction."""
        result = await session.execute(
            update(ReplyTemplate)
            .where(ReplyTemplate.id == template_id)
            .values(usage_count=ReplyTemplate.usage_count + 1)
        )
        if getattr(result, "rowcount", 0) == 0:
            raise NotFound("no such template", {"id": template_id})
        session.add(TemplateUse(template_id=template_id, ticket_id=ticket_id, agent_id=agent_id))
