"""Alert texts: level templates rendered in the budgeted sandbox with the ticket and the clock.

Ops write the level templates; they render in the render workers (``core.template_workers``)
with the same limits as reply templates, are checked against a sample when a policy is
saved, and fall back to the built-in text when they fail at run time.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime
from typing import Any

from agent_ui.base.i18n import translate
from alerts.policies import TARGET_LABELS
from alerts.settings import LevelDefinition
from alerts.sms.text import fit
from core.records import Ticket
from core.template_workers import TemplateJob, TemplateRenderer
from routing.desk import ticket_dict

log = logging.getLogger(__name__)

SKIP_EXPENSIVE_SECONDS = 300.0

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
        """The SMS text, email subject and email body of one level for one ticket; never raises.

        One round trip to the render workers: ops' templates and the built-in text of the parts
        they leave empty render together; a second renders the built-in text of any that failed."""
        language = context.get("language")  # the built-in texts in the recipient's language
        parts = {"text": (level.template, translate(language, DEFAULT_TEXT)),
                 "subject": (level.subject, translate(language, DEFAULT_SUBJECT))}
        rendered: dict[str, str] = {}
        failures: list[dict[str, str]] = []
        now = time.monotonic()
        first: list[tuple[str, TemplateJob]] = []
        for part, (source, builtin) in parts.items():
            if source and self._expensive.get(source, 0.0) > now:
                failures.append({"part": part, "error": f"{where} {part} recently exceeded its limits"})
            elif source:
                first.append((part, TemplateJob(f"{where} {part}", source, context)))
                continue
            first.append((part, TemplateJob(f"built-in alert {part}", builtin, context)))
        results = await self.renderer.try_render([job for _, job in first])
        for (part, job), result in zip(first, results, strict=True):
            if isinstance(result, str):
                rendered[part] = result
            elif job.source != parts[part][1]:
                log.warning("ticket %s: alert %s failed, the built-in text is used: %s",
                            context["ticket"].get("id"), part, result.message)
                failures.append({"part": part, "error": result.message})
                if result.details.get("limit") in ("time", "memory"):
                    self._expensive[job.source] = now + SKIP_EXPENSIVE_SECONDS
        missing = [part for part in parts if part not in rendered]
        fallbacks = await self.renderer.try_render(
            [TemplateJob(f"built-in alert {part}", parts[part][1], context) for part in missing])
        for part, result in zip(missing, fallbacks, strict=True):
            rendered[part] = result if isinstance(result, str) else _plain(context)
        text = " ".join(rendered["text"].split())
        subject = " ".join(rendered["subject"].split())[:500]
        return LevelTexts(fit(text, self.max_segments, context["link"]), subject, text, failures)

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
