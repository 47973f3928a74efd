"""Reply templates rendered in the budgeted sandbox (``core.template_workers``): ops write them,
and customers choose some of what they render, so they are not trusted.

Templates see three plain dictionaries — ``customer``, ``ticket`` and ``agent`` — never
database records (a record would let a template walk relationships, or trigger lazy loads).
Anything that goes wrong, from a syntax error or a limit to an attempt to reach
``__class__``, comes back as ``InvalidInput`` naming the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.customers import customer_dict
from core.records import Customer, Ticket, User
from core.template_workers import TemplateJob, TemplateRenderer
from core.users import user_dict
from routing.ticket_listing import ticket_dict

CONTEXT_NAMES = ("customer", "ticket", "agent")

# What the editor's "check" renders against, so a typo in a variable name shows at save time.
SAMPLE_CONTEXT: dict[str, dict[str, Any]] = {
    "customer": {"id": 1, "name": "Ana García", "tier": "standard", "language": "es",
                 "emails": ["ana@example.com"], "phones": ["+34600000000"], "tags": [],
                 "external_id": None, "notes": ""},
    "ticket": {"id": 1, "number": 1001, "tag": "#1001", "subject": "Pedido 42",
               "status": "open", "priority": "normal", "category": "inquiry",
               "channel": "email", "queue": "general", "customer": "Ana García",
               "assignee": "Li Wei", "created_at": "2026-01-05T09:00:00+00:00",
               "due_at": None},
    "agent": {"id": 2, "login": "liwei", "name": "Li Wei", "display_name": "Li Wei", "language": "zh",
              "extension": "1002", "email": "liwei@example.com"},
}


async def render_reply(
    renderer: TemplateRenderer, subject: str, body: str, is_html: bool, context: Mapping[str, Any],
    strict: bool = False, name: str = "the template",
) -> tuple[str, str]:
    """(subject, body); the subject is one line of plain text whatever the template says.

    Rendered in the render workers, with their budget: never on the event loop."""
    full = {key: dict(context.get(key) or {}) for key in CONTEXT_NAMES}
    full.update({k: v for k, v in context.items() if k not in CONTEXT_NAMES})
    rendered_subject, rendered_body = await renderer.render([
        TemplateJob(f"the subject of {name}", subject, full, False, strict),
        TemplateJob(f"the body of {name}", body, full, is_html, strict),
    ])
    return " ".join(rendered_subject.split()), rendered_body


async def check_template(renderer: TemplateRenderer, subject: str, body: str, is_html: bool,
                         name: str = "the template") -> None:
    """Refuse a template that would not render against a complete sample context."""
    await render_reply(renderer, subject, body, is_html, SAMPLE_CONTEXT, strict=True, name=name)


def reply_context(
    customer: Customer | None = None, ticket: Ticket | None = None, agent: User | None = None
) -> dict[str, dict[str, Any]]:
    """The template variables for these records (their relationships must be loaded)."""
    return {
        "customer": customer_dict(customer) if customer else {},
        "ticket": ticket_dict(ticket) if ticket else {},
        "agent": _agent_dict(agent) if agent else {},
    }


def _agent_dict(agent: User) -> dict[str, Any]:
    keep = ("id", "login", "display_name", "language", "extension")
    return {k: v for k, v in user_dict(agent).items() if k in keep} | {
        "name": agent.display_name, "email": agent.email}
