"""Reply templates rendered in Jinja2's sandbox: ops write them, so they are not trusted.

Templates see three plain dictionaries — ``customer``, ``ticket`` and ``agent`` — never
database records (a record would let a template walk relationships, or trigger lazy loads).
Anything that goes wrong, from a syntax error to an attempt to reach ``__class__``,
comes back as ``InvalidInput`` naming the template.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from core.customers import customer_dict
from core.errors import InvalidInput
from core.records import Customer, Ticket, User
from core.users import user_dict
from routing.desk import ticket_dict

MAX_OUTPUT = 200_000  # characters; a template that produces more is refused
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


class _ReplySandbox(SandboxedEnvironment):
    """The sandbox, plus a cap on string and list repetition (``'x' * 10**9``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int) and abs(right) > 100:
                raise jinja2.exceptions.SecurityError("exponent too large")
            return operator.pow(left, right)
        if isinstance(right, int) and isinstance(left, str | list | tuple):
            if len(left) * right > MAX_OUTPUT:
                raise jinja2.exceptions.SecurityError("repetition too large")
        elif isinstance(left, int) and isinstance(right, str | list | tuple):
            if len(right) * left > MAX_OUTPUT:
                raise jinja2.exceptions.SecurityError("repetition too large")
        return operator.mul(left, right)


@functools.cache
def _environment(html: bool, strict: bool) -> SandboxedEnvironment:
    return _ReplySandbox(
        autoescape=html,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        keep_trailing_newline=True,
    )


def _render(source: str, html: bool, strict: bool, context: Mapping[str, Any], what: str) -> str:
    try:
        template = _environment(html, strict).from_string(source)
        output = template.render(dict(context))
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidInput(f"the template's {what} does not parse: {exc.message}",
                           {"part": what, "line": exc.lineno}) from None
    except jinja2.exceptions.SecurityError as exc:
        raise InvalidInput(f"the template's {what} tries something not allowed: {exc}",
                           {"part": what}) from None
    except jinja2.UndefinedError as exc:
        raise InvalidInput(f"the template's {what} uses an unknown value: {exc.message}",
                           {"part": what}) from None
    except (RecursionError, MemoryError):
        raise InvalidInput(f"the template's {what} is too large to render", {"part": what}) from None
    except Exception as exc:  # any failure inside an ops-written template
        raise InvalidInput(f"the template's {what} fails to render: {type(exc).__name__}: {exc}",
                           {"part": what}) from None
    if len(output) > MAX_OUTPUT:
        raise InvalidInput(f"the template's {what} renders too much text", {"part": what})
    return output


def render_reply(
    subject: str, body: str, is_html: bool, context: Mapping[str, Any], strict: bool = False
) -> tuple[str, str]:
    """(subject, body); the subject is one line of plain text whatever the template says."""
    full = {name: context.get(name) or {} for name in CONTEXT_NAMES}
    full.update({k: v for k, v in context.items() if k not in CONTEXT_NAMES})
    rendered_subject = _render(subject, False, strict, full, "subject")
    rendered_body = _render(body, is_html, strict, full, "body")
    return " ".join(rendered_subject.split()), rendered_body


def check_template(subject: str, body: str, is_html: bool) -> None:
    """Refuse a template that would not render against a complete sample context."""
    render_reply(subject, body, is_html, SAMPLE_CONTEXT, strict=True)



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
