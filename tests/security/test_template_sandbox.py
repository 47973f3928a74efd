"""Escapes from the template sandbox, tried wherever ops write a template (issue 10).

Each payload reaches for Python internals (the class hierarchy, function globals, the
template's own context) or builds format strings that would. Each must be refused with a
400 that says it is not allowed — at save time for reply templates and SLA level templates,
and at preview time when the payload hides behind a condition on what a customer wrote —
and never render as text or as an empty string.
"""

from __future__ import annotations

from typing import Any

import pytest
from web_fixtures import WebSite

from core.records import Channel, EntryKind
from core.template_sandbox import Limits, TemplateFailure, render
from routing import Contact

ESCAPES = {
    "class": "{{ ''.__class__ }}",
    "mro-subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner-globals": "{{ joiner.__init__.__globals__ }}",
    "namespace-init": "{{ namespace.__init__ }}",
    "template-context": "{{ self._TemplateReference__context }}",
    "format-attr": "{{ '{0.__class__}'.format(ticket) }}",
    "format-globals": "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "format-map": "{{ '{x.__class__}'.format_map({'x': ticket}) }}",
    "attr-filter": "{{ ticket|attr('__class__') }}",
    "attr-dunder-dict": "{{ (ticket|attr('items'))|attr('__self__') }}",
    "subscript-dunder": "{{ ticket['__class__'] }}",
    "getattr-string": "{{ ''['__class__'] }}",
    "func-code": "{{ lipsum.__code__ }}",
    "range-globals": "{{ range.__globals__ }}",
    "percent-dict": "{{ '%(a)s' % ticket.__class__.__dict__ }}",
    "mutate-list": "{% set x = [1] %}{{ x.append(2) }}{{ x }}",
    "mutate-dict": "{{ ticket.update({'id': 0}) }}",
}


def _reply_template(body: str, name: str = "Escape") -> dict[str, Any]:
    return {"name": name, "language": "en", "subject": "Re: {{ ticket.subject }}", "body": body,
            "keywords": ["order"]}


@pytest.mark.parametrize("kind", sorted(ESCAPES))
def test_the_sandbox_refuses_each_escape_instead_of_rendering_it(kind: str) -> None:
    context = {"ticket": {"id": 1, "subject": "x"}}
    for strict in (False, True):
        with pytest.raises(TemplateFailure) as refused:
            render(ESCAPES[kind], context, Limits(), strict=strict)
        assert "not allowed" in refused.value.message or "unsafe" in refused.value.message, refused.value.message


async def test_reply_templates_with_escapes_are_refused_when_saved(site: WebSite) -> None:
    ops = await site.login("ops")
    for kind, payload in sorted(ESCAPES.items()):
        refused = await ops.api("POST", "/api/v1/templates", json=_reply_template(payload, f"Escape {kind}"),
                                status=400)
        assert f"'Escape {kind}'" in refused["message"], (kind, refused)
    assert not (await ops.api("GET", "/api/v1/templates"))["templates"]


async def test_sla_level_templates_with_escapes_are_refused_when_saved(site: WebSite) -> None:
    ops = await site.login("ops")
    for kind, payload in sorted(ESCAPES.items()):
        for part in ("template", "subject"):
            policy = {"position": 20, "match": {"channel": ["email"]}, "first_response_minutes": 60,
                      "levels": [{"at": "+0", "channels": ["email"], "recipients": ["assignee"], part: payload}]}
            refused = await ops.api("PUT", f"/api/v1/sla/policies/escape-{kind}", json=policy, status=400)
            assert f"SLA policy 'escape-{kind}' level 1 {part}" in refused["message"], (kind, refused)
    names = {p["name"] for p in (await ops.api("GET", "/api/v1/sla/policies"))["policies"]}
    assert not {n for n in names if n.startswith("escape-")}


@pytest.mark.parametrize("kind", ["class", "format-attr", "attr-filter", "template-context", "cycler-globals"])
async def test_an_escape_hidden_behind_a_customers_subject_is_refused_at_preview(site: WebSite, kind: str) -> None:
    ops = await site.login("ops")
    agent = await site.login("agent")
    hidden = "{% if 'open sesame' in ticket.subject %}" + ESCAPES[kind] + "{% endif %}Thanks!"
    saved = await ops.api("POST", "/api/v1/templates", json=_reply_template(hidden, "Hidden"), status=201)
    async with site.services.db.transaction() as session:
        accepted = await site.services.desk.accept(
            session, Contact(channel=Channel.EMAIL, customer_id=None, subject="open sesame"),
            EntryKind.EMAIL_IN, {"subject": "open sesame"})
    refused = await agent.api("POST", f"/api/v1/tickets/{accepted.ticket.id}/reply-preview",
                              json={"template_id": saved["template"]["id"]}, status=400)
    assert "'Hidden'" in refused["message"] and "not allowed" in refused["message"], refused
