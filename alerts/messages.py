"""Alert texts: level templates rendered in the budgeted sandbox with the ticket and the clock.

Ops write the level templates; they render in the render workers (``core.template_workers``)
with the same limits as reply templates, are checked against a sample when a policy is
saved, and fall back to the built-in text when they fail at run time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent_ui.base.i18n import translate
from alerts.policies import TARGET_LABELS
from alerts.settings import LevelDefinition
from alerts.sms.text import fit
from core.errors import InvalidInput
from core.records import Ticket
from core.template_workers import TemplateJob, TemplateRenderer
from routing.ticket_listing import ticket_dict

log = logging.getLogger(__name__)

SKIP_EXPENSIVE_SECONDS = 300.0
RENDER_CHUNK = 40  # jobs per round trip to a render worker (two per level)

DEFAULT_TEXT = (
    "{{ ticket.tag }} {{ target }} {% if overdue %}overdue by {{ overdue }}{% else %}due in {{ left }}{% endif %}"
    " ({{ ticket.queue }}): {{ ticket.subject }}{% if customer.name %} - {{ customer.name }}{% endif %}."
    " Reply ACK {{ ticket.number }} to acknowledge. {{ link }}"
)
DEFAULT_SUBJECT = (
    "[SLA] {{ ticket.tag }} {{ target }} {% if overdue %}breached{% else %}at risk{% endif %}: {{ ticket.subject }}"
)


def human(seconds: float, language: str | None = None) -> str:
    """``2d 3h`` / ``2天 3小时`` / ``2 d 3 h``: the two largest units, in the reader's language."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def unit(word: str, n: int) -> str:
        return translate(language, word).replace("{n}", str(n))

    parts = [unit("{n}d", days)] if days else []
    if hours:
        parts.append(unit("{n}h", hours))
    if minutes or not parts:
        parts.append(unit("{n}m", minutes))
    return " ".join(parts[:2])


@dataclasses.dataclass(slots=True)
class LevelTexts:
    """What one ladder level says, and which of its templates failed (their built-in text was used)."""

    sms: str
    subject: str
    body: str
    failures: list[dict[str, str]] = dataclasses.field(default_factory=list)


# The example a policy's templates are rendered against when ops save it.
SAMPLE_CONTEXT: dict[str, Any] = {
    "ticket": {"id": 1, "number": 1001, "tag": "#1001", "subject": "Pedido 42", "status": "open",
               "priority": "normal", "category": "inquiry", "channel": "email", "queue": "general",
               "customer": "Ana García", "assignee": "Li Wei", "created_at": "2026-01-05T09:00:00+00:00",
               "due_at": "2026-01-05T13:00:00+00:00"},
    "customer": {"name": "Ana García", "tier": "standard"},
    "target": "first response", "elapsed": "4h", "overdue": "10m", "left": "",
    "deadline": "2026-01-05T13:00", "level": 1, "link": "https://frontdesk.example/tickets/1",
}


class AlertMessages:
    """Renders level templates through the budgeted render workers; a template that fails for
    any reason is replaced by the built-in text, so an escalation always goes out."""

    def __init__(self, renderer: TemplateRenderer, base_url: str, max_segments: int = 3) -> None:
        self.renderer = renderer
        self.base_url = base_url.rstrip("/")
        self.max_segments = max_segments
        # Templates that ran out of time or memory recently: skipped (built-in text) for a
        # while, so one slow template cannot hold a scan's transaction render after render.
        self._expensive: dict[str, float] = {}

    def link(self, ticket_id: int) -> str:
        return f"{self.base_url}/tickets/{ticket_id}"

    async def check_level(self, level: LevelDefinition, where: str) -> None:
        """Refuse a level whose templates do not render against a sample (at save time)."""
        jobs = [TemplateJob(f"{where} {part}", source, SAMPLE_CONTEXT, strict=True)
                for part, source in (("template", level.template), ("subject", level.subject)) if source]
        await self.renderer.render(jobs)

    async def level_texts(self, level: LevelDefinition, context: dict[str, Any], where: str) -> LevelTexts:
        """The SMS text, email subject and email body of one level for one ticket; never raises."""
        return (await self.level_texts_many([(level, context, where)]))[0]

    async def level_texts_many(
        self, requests: Sequence[tuple[LevelDefinition, dict[str, Any], str]]
    ) -> list[LevelTexts]:
        """``level_texts`` for many (level, context, where) at once; never raises.

        A scan that fires hundreds of levels would otherwise wait for one render round trip
        per level: here ops' templates and the built-in text of the parts they leave empty
        render in chunks spread over the render workers, and a second pass renders the
        built-in text of any that failed."""
        now = time.monotonic()
        rendered: list[dict[str, str]] = [{} for _ in requests]
        failures: list[list[dict[str, str]]] = [[] for _ in requests]
        builtins: list[dict[str, str]] = []
        first: list[tuple[int, str, TemplateJob]] = []
        for n, (level, context, where) in enumerate(requests):
            language = context.get("language")  # the built-in texts in the recipient's language
            parts = {"text": (level.template, translate(language, DEFAULT_TEXT)),
                     "subject": (level.subject, translate(language, DEFAULT_SUBJECT))}
            builtins.append({part: builtin for part, (_source, builtin) in parts.items()})
            for part, (source, builtin) in parts.items():
                if source and self._expensive.get(source, 0.0) > now:
                    failures[n].append({"part": part, "error": f"{where} {part} recently exceeded its limits"})
                elif source:
                    first.append((n, part, TemplateJob(f"{where} {part}", source, context)))
                    continue
                first.append((n, part, TemplateJob(f"built-in alert {part}", builtin, context)))
        results = await self._render_spread([job for _n, _part, job in first])
        for (n, part, job), result in zip(first, results, strict=True):
            if isinstance(result, str):
                rendered[n][part] = result
            elif job.source != builtins[n][part]:
                log.warning("ticket %s: alert %s failed, the built-in text is used: %s",
                            requests[n][1]["ticket"].get("id"), part, result.message)
                failures[n].append({"part": part, "error": result.message})
                if result.details.get("limit") in ("time", "memory"):
                    self._expensive[job.source] = now + SKIP_EXPENSIVE_SECONDS
        missing = [(n, part) for n in range(len(requests)) for part in builtins[n] if part not in rendered[n]]
        fallbacks = await self._render_spread(
            [TemplateJob(f"built-in alert {part}", builtins[n][part], requests[n][1]) for n, part in missing])
        for (n, part), result in zip(missing, fallbacks, strict=True):
            rendered[n][part] = result if isinstance(result, str) else _plain(requests[n][1])
        texts = []
        for n, (_level, context, _where) in enumerate(requests):
            text = " ".join(rendered[n]["text"].split())
            subject = " ".join(rendered[n]["subject"].split())[:500]
            texts.append(LevelTexts(fit(text, self.max_segments, context["link"]), subject, text, failures[n]))
        return texts

    async def _render_spread(self, jobs: Sequence[TemplateJob]) -> list[str | InvalidInput]:
        """``try_render`` in chunks, run at once on the render workers; results in order.

        Chunks stay small: a worker's time limit covers its whole chunk, and one slow template
        must not push the built-in text onto a hundred other tickets' alerts."""
        chunks = [jobs[i:i + RENDER_CHUNK] for i in range(0, len(jobs), RENDER_CHUNK)]
        results = await asyncio.gather(*(self.renderer.try_render(chunk) for chunk in chunks))
        return [result for chunk in results for result in chunk]

    def context(
        self, ticket: Ticket, customer: dict[str, Any], target: str, start: datetime, deadline: datetime,
        now: datetime, level: int, language: str | None = None,
    ) -> dict[str, Any]:
        """The template's variables; ``language`` is the recipient's (target names, durations)."""
        left = (deadline - now).total_seconds()
        return {
            "ticket": ticket_dict(ticket),
            "customer": customer,
            "target": translate(language, TARGET_LABELS.get(target, target)),
            "elapsed": human((now - start).total_seconds(), language),
            "overdue": human(left, language) if left <= 0 else "",
            "left": human(left, language) if left > 0 else "",
            "language": language,
            "deadline": deadline.isoformat(timespec="minutes"),
            "level": level + 1,
            "link": self.link(ticket.id),
        }


def _plain(context: dict[str, Any]) -> str:
    """The last resort when even the built-in template cannot render (workers unavailable)."""
    ticket = context.get("ticket") or {}
    return f"{ticket.get('tag', '')} SLA {context.get('target', '')}: {context.get('link', '')}"
