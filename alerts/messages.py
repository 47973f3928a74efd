"""Alert texts: level templates rendered in Jinja2's sandbox with the ticket and the clock."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


def human(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes or not parts:
        parts.append(f"{minutes}m")
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
        now: datetime, level: int,
    ) -> dict[str, Any]:
        left = (deadline - now).total_seconds()
        return {
            "ticket": ticket_dict(ticket),
            "customer": customer,
            "target": TARGET_LABELS.get(target, target),
            "elapsed": human((now - start).total_seconds()),
            "overdue": human(left) if left <= 0 else "",
            "left": human(left) if left > 0 else "",
            "deadline": deadline.isoformat(timespec="minutes"),
            "level": level + 1,
            "link": self.link(ticket.id),
        }

    def sms(self, template: str, context: dict[str, Any]) -> str:
        return fit(self._render(template, DEFAULT_TEXT, context), self.max_segments, context["link"])

    def email(self, template: str, subject: str, context: dict[str, Any]) -> tuple[str, str]:
        body = self._render(template, DEFAULT_TEXT, context)
        return self._render(subject, DEFAULT_SUBJECT, context)[:500], body
