"""The public interface of reply suggestions (the knowledge helper fills in the implementation).

Channels call ``TemplateLibrary.suggest`` for every incoming mail and
``TemplateLibrary.render`` when an agent picks a suggestion.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound


@dataclasses.dataclass(frozen=True, slots=True)
class Suggestion:
    template_id: int
    name: str
    score: float
    matched: tuple[str, ...]  # the keywords/phrases found, so the agent sees why


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedReply:
    template_id: int
    subject: str
    body: str


class TemplateLibrary:
    """Ranks and renders reply templates; holds a compiled matcher reloaded on change."""

    async def suggest(
        self, session: AsyncSession, subject: str, body: str, language: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        return []

    async def render(self, session: AsyncSession, template_id: int, context: dict[str, Any]) -> RenderedReply:
        raise NotFound("no such template", {"id": template_id})
