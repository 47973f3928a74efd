"""A contact from any channel and the decision routing makes about it."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from agent_ui.base.i18n import format_number, system_localizer, translate

# A voice ticket whose subject starts so is a callback: an abandoned call to ring back.
# The call recorder writes it (in the customer's language); SLA policies select on it, so
# the prefix is recognised in every shipped language.
CALLBACK_SUBJECT_PREFIX = "Callback"


def callback_subject(detail: str, language: str | None = None) -> str:
    return translate(language, "Callback: %(detail)s", detail=detail)


def call_subject(inbound: bool, number: str | None, language: str | None = None) -> str:
    """A call ticket's subject: "Call from …" / "Call to …" in the customer's language."""
    who = number or translate(language, "withheld number")
    if inbound:
        return translate(language, "Call from %(number)s", number=who)
    return translate(language, "Call to %(number)s", number=who)


def callback_detail(number: str | None, timeout: bool, queue: str | None, wait_s: float, language: str | None) -> str:
    why = translate(language, "queue timeout") if timeout else translate(language, "caller hung up")
    return translate(language, "%(number)s (%(why)s in %(queue)s after %(wait)ss)",
                     number=number or translate(language, "withheld number"), why=why,
                     queue=queue or translate(language, "queue"), wait=format_number(round(wait_s), language))


def is_callback(channel: str, subject: str) -> bool:
    if channel != "voice":
        return False
    text = subject.strip().lower()
    return any(text.startswith(prefix.lower()) for prefix in _callback_prefixes())


@functools.cache
def _callback_prefixes() -> tuple[str, ...]:
    """"Callback" as every catalog writes it, so a policy matches a callback in any language."""
    localizer = system_localizer()
    words = {CALLBACK_SUBJECT_PREFIX}
    for language in localizer.languages:
        full = localizer.gettext(language, "Callback: %(detail)s")
        words.add(full.split("%(detail)s")[0].rstrip(" :：") or CALLBACK_SUBJECT_PREFIX)
    return tuple(sorted(words))


def suggested_template(name: str, category: str | None) -> dict[str, str]:
    """A mail's attributes for the reply template the matcher suggests first (the ``template`` and
    ``template_category`` conditions read them). The mail ingest and ``frontdesk rules test`` both
    build them here, so the test decides on what production decides on."""
    return {"template": name, "template_category": category or ""}


@dataclasses.dataclass(slots=True)
class Contact:
    """What a channel knows about an incoming contact, before it is a ticket."""

    channel: str
    customer_id: int | None
    customer_tier: str | None = None
    subject: str = ""
    body: str = ""
    address: str | None = None  # the phone number or email address it came from
    queue_hint: str | None = None  # e.g. the PBX queue the call joined
    ticket_id: int | None = None  # set when the channel already threaded it
    category: str | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    # subject and body as keyword matching reads them, folded once per contact (replay decides each twice)
    folded: str | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass(slots=True)
class Decision:
    queue: str
    priority: int
    category: str
    assignee_id: int | None = None
    join_ticket_id: int | None = None  # an open ticket this contact joins
    skill: str | None = None
    matched_rule: str | None = None  # the last rule that matched (the one that routed it)
    reasons: list[str] = dataclasses.field(default_factory=list)
    rule_version: int = 0  # of the rule set that decided (0: the built-in defaults)
    rules: list[str] = dataclasses.field(default_factory=list)  # every rule that matched, in order
    tags: list[str] = dataclasses.field(default_factory=list)
    team: str | None = None
    strategy: str | None = None
    sla_policy: str | None = None
    acknowledgement: str | None = None  # a template name, or "none" for no acknowledgement
    call: str | None = None  # ticket | log | callback
    complaint_category: str | None = None  # a rule made it a complaint of this category
    subject: str | None = None  # a joined ticket takes this subject (a call's ticket turned callback)
    weight: int = 1  # capacity units the ticket costs its agent
    push: bool = False  # offered to agents by the assigner (else it waits to be taken)
    preferred_agent_id: int | None = None  # offered to this agent first (the customer's last agent)
    error: str | None = None  # a rule failed on this contact: routed to the default queue

    def explanation(self) -> dict[str, Any]:
        """What the ticket's timeline records: the rule, the version and why."""
        why: dict[str, Any] = {"version": self.rule_version, "rule": self.matched_rule,
                               "rules": list(self.rules), "why": list(self.reasons)}
        if self.error:
            why["error"] = self.error
        return why
