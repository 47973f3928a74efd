"""Alert texts: level templates rendered in Jinja2's sandbox with the ticket and the clock."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent_ui.i18n import translate
from alerts.policies import TARGET_LABELS
from alerts.sms.text import fit
from core.records import Ticket
from routing.desk import ticket_dict

log = logging.getLogger(__name__)

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


class AlertMessages:
    def __init__(self, base_url: str, max_segments: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_segments = max_segments
        self.env = ImmutableSandboxedEnvironment(autoescape=False)
        self._cache: dict[str, Any] = {}

    def link(self, ticket_id: int) -> str:
        return f"{self.base_url}/tickets/{ticket_id}"

    def _render(self, source: str, fallback: str, context: dict[str, Any]) -> str:
        for text in (source, fallback) if source else (fallback,):
            try:
                template = self._cache.get(text)
                if template is None:
                    template = self._cache[text] = self.env.from_string(text)
                return " ".join(str(template.render(context)).split())
            except TemplateError as exc:
                log.warning("alert template failed (%s); using the built-in text", exc)
        return ""

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

    def sms(self, template: str, context: dict[str, Any]) -> str:
        """A level's own template as written; the built-in text in the recipient's language."""
        default = translate(context.get("language"), DEFAULT_TEXT)
        return fit(self._render(template, default, context), self.max_segments, context["link"])

    def email(self, template: str, subject: str, context: dict[str, Any]) -> tuple[str, str]:
        language = context.get("language")
        body = self._render(template, translate(language, DEFAULT_TEXT), context)
        return self._render(subject, translate(language, DEFAULT_SUBJECT), context)[:500], body
