"""Finding a reply template by what the agent types, with the suggested ones first.

The composer's picker offers every active template, not only those the matcher suggested
when a mail arrived: a call or web ticket has no such suggestions, and a template added
since would never appear. Search uses the matcher's normalisation (``core.normalize``), so
a query in traditional Chinese finds a template written in simplified characters, and
"reembolso" finds "Reembolsó".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.keyword_matcher import Suggestion
from core.normalize import normalize
from core.records import Role
from knowledge.records import ReplyTemplate

MAX_CHOICES = 50


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateChoice:
    template_id: int
    name: str
    category: str
    language: str
    subject: str
    suggested: bool
    score: float
    matched: tuple[str, ...]  # the words that made it a suggestion

    def as_dict(self) -> dict[str, Any]:
        return {"template_id": self.template_id, "name": self.name, "category": self.category,
                "language": self.language, "subject": self.subject, "suggested": self.suggested,
                "score": self.score, "matched": list(self.matched)}


def _haystack(template: ReplyTemplate) -> str:
    keywords = " ".join(str(k.get("phrase", "")) for k in template.keywords or [])
    return normalize(" ".join([template.name, template.category or "", template.subject, keywords, template.body]))


def _fits(template: ReplyTemplate, words: list[str]) -> bool:
    haystack = _haystack(template)
    return all(word in haystack for word in words)


async def find_templates(
    session: AsyncSession, actor: Actor, query: str, suggestions: Sequence[Suggestion], limit: int = MAX_CHOICES
) -> list[TemplateChoice]:
    """Active templates whose name, category, subject, keywords or text hold every word of
    ``query`` (all of them for an empty query): the suggested ones first, best first, then the
    rest by how often they were used and by name."""
    actor.require(Role.AGENT, Role.OPS)
    words = normalize(query).split()
    rows = list(await session.scalars(select(ReplyTemplate).where(ReplyTemplate.active.is_(True))))
    by_id = {t.id: t for t in rows}
    choices: list[TemplateChoice] = []
    seen: set[int] = set()
    for found in suggestions:
        template = by_id.get(found.template_id)
        if template is None or found.template_id in seen or not _fits(template, words):
            continue
        seen.add(template.id)
        choices.append(_choice(template, True, found.score, tuple(found.matched)))
    rest = sorted((t for t in rows if t.id not in seen and _fits(t, words)),
                  key=lambda t: (-(t.usage_count or 0), t.name, t.language or "", t.id))
    choices.extend(_choice(t, False, 0.0, ()) for t in rest)
    return choices[:limit]


def _choice(template: ReplyTemplate, suggested: bool, score: float, matched: tuple[str, ...]) -> TemplateChoice:
    return TemplateChoice(template.id, template.name, template.category or "", template.language or "",
                          template.subject, suggested, round(score, 3), matched)
