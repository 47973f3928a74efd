"""A contact from any channel and the decision routing makes about it."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar

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


@dataclasses.dataclass
class Decision:
    """Where a contact goes and why.

    A rule's reason read from the contact (the keywords found, which of a rule's domains) is
    written when ``reasons`` is first read (``explain_later``), in its place among the others:
    the same text, but a decision is not held up writing words before anyone reads them. (Not
    slotted: ``start`` sets only what differs from the class's defaults.)
    """

    # Not fields (nor in ``asdict``): set on the instance through ``vars``.
    _said: ClassVar[list[Any]]  # ``reasons`` so far: text, or (how to write it, from what) not written yet
    _unsaid: ClassVar[bool] = False  # some are not written yet
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

    @classmethod
    def start(cls, queue: str, priority: int, category: str, rule_version: int) -> Decision:
        """A decision before any rule (what the engine starts every contact from): the fields
        given, the lists fresh, every other field the class's default, without the generated
        ``__init__``'s two dozen assignments."""
        decision = cls.__new__(cls)
        decision.queue, decision.priority, decision.category, decision.rule_version = queue, priority, category, rule_version
        decision.rules, decision.tags = [], []
        vars(decision)["_said"] = []
        return decision

    def say(self, reason: str) -> None:
        """Add a reason, after those before it (written or not yet)."""
        self._said.append(reason)

    def explain_later(self, why: Callable[[Any], str], of: Any) -> None:
        """Add the reason ``why(of)``, written when ``reasons`` is first read.

        ``why`` must be pure over ``of`` and whatever never changes (a compiled rule set), and
        must not fail: it says what a test that already passed on ``of`` found.
        """
        self._said.append((why, of))
        vars(self)["_unsaid"] = True


def _reasons(decision: Decision) -> list[str]:
    said = decision._said
    if decision._unsaid:
        said[:] = [r if isinstance(r, str) else r[0](r[1]) for r in said]
        vars(decision)["_unsaid"] = False
    return said


def _set_reasons(decision: Decision, reasons: list[str]) -> None:
    state = vars(decision)
    state["_said"] = reasons
    state["_unsaid"] = False


# The dataclass field ``reasons`` (in ``__init__``, equality, ``replace``) read and written through
# ``_said``, so a reason explained later is written on first read.
Decision.reasons = property(_reasons, _set_reasons)  # type: ignore[assignment]
