"""Routing rules as ops write them (web form, REST, YAML), validated before anything runs or is saved.

A rule is a name, an enabled flag, condition groups and actions. Every group must hold for
the rule to match; a group holds when all (``mode: all``) or any (``mode: any``) of its
conditions do. Rules run in order; a later matching rule overrides an earlier one's
actions field by field, and ``stop`` ends the run. Unknown fields, empty groups, keyword
lists over their cap and operators a field does not have are refused with the field named.
No regular expressions: keywords go through the template matcher's automaton (linear time).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import InvalidInput
from core.records import Category
from routing.tags import tidy_tag

MAX_RULES = 1000
MAX_VALUES = 200  # list values of a condition (channels, domains, prefixes, ...)
MAX_KEYWORDS = 50  # keywords of one condition
MAX_KEYWORD_LENGTH = 100
MAX_CONDITIONS_TOTAL = 5000  # over the whole set: compiling it stays a matter of milliseconds
MAX_KEYWORDS_TOTAL = 20_000

# field → the operators it takes; the operator decides the value's type
LIST_OPS = ("in", "not_in")
FIELDS: dict[str, tuple[str, ...]] = {
    "channel": LIST_OPS,
    "mailbox": LIST_OPS,
    "recipient": LIST_OPS,  # the address a mail was sent to
    "pbx_queue": LIST_OPS,
    "dialled_number": LIST_OPS,
    "sender": LIST_OPS,  # the sender's address or phone number
    "sender_domain": LIST_OPS,
    "phone_prefix": ("starts_with",),
    "country": LIST_OPS,  # the caller's country from the number (ISO code, e.g. CN)
    "tier": LIST_OPS,
    "customer_tag": LIST_OPS,
    "language": LIST_OPS,
    "known_customer": ("is",),
    "reply": ("is",),  # threaded by the channel (References / In-Reply-To / ticket tag)
    "callback": ("is",),  # an abandoned or timed-out call
    "automatic": ("is",),  # an auto-reply, bounce or mail loop
    "join_requested": ("is",),  # the API caller asked to join the customer's open ticket
    "keywords": ("contains_any",),  # subject or body
    "subject_keywords": ("contains_any",),
    "body_keywords": ("contains_any",),
    "template": LIST_OPS,  # the name of the reply template the matcher suggests first for a mail
    "template_category": LIST_OPS,  # that template's category
    "open_ticket": ("exists", "updated_within_hours", "older_than_hours"),
    "open_callback": ("exists",),
    "business_hours": ("open_in", "closed_in"),  # inside / outside the hours of the named business calendars
}
HISTORY_FIELDS = frozenset({"open_ticket", "open_callback"})  # need a read of the customer's tickets

PRIORITIES = ("low", "normal", "high", "urgent")
STRATEGIES = ("manual", "round_robin", "least_busy", "skills", "last_agent")
PUSH_STRATEGIES = ("round_robin", "least_busy", "skills")  # offered to agents by ``routing.assignment``
CALL_ACTIONS = ("ticket", "log", "callback")
COMPLAINT_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # as ``routing.complaints.tidy_key`` checks


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: str
    value: bool | int | list[str]

    @model_validator(mode="after")
    def _fits_field(self) -> Condition:
        ops = FIELDS.get(self.field)
        if ops is None:
            raise ValueError(f"unknown field {self.field!r} (known: {', '.join(sorted(FIELDS))})")
        if self.op not in ops:
            raise ValueError(f"field {self.field!r} takes the operators {', '.join(ops)}, not {self.op!r}")
        if self.op in ("is", "exists"):
            if not isinstance(self.value, bool):
                raise ValueError(f"{self.field} {self.op}: the value must be true or false")
        elif self.op in ("updated_within_hours", "older_than_hours"):
            if isinstance(self.value, bool) or not isinstance(self.value, int) or not 0 < self.value <= 24 * 366:
                raise ValueError(f"{self.field} {self.op}: the value must be a number of hours from 1 to 8784")
        else:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"{self.field} {self.op}: the value must be a non-empty list")
            cap, length = (MAX_KEYWORDS, MAX_KEYWORD_LENGTH) if self.op == "contains_any" else (MAX_VALUES, 320)
            if len(self.value) > cap:
                raise ValueError(f"{self.field}: at most {cap} values, not {len(self.value)}")
            cleaned = [" ".join(str(v).split()) for v in self.value]
            if any(not v or len(v) > length for v in cleaned):
                raise ValueError(f"{self.field}: each value must have 1 to {length} characters")
            object.__setattr__(self, "value", cleaned)
        return self


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=50)


class JoinOpenTicket(BaseModel):
    """Join the customer's (or, for an unknown caller, the number's) open ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    within_hours: int | None = Field(default=None, gt=0, le=24 * 366)  # None: however old
    callback_only: bool = False  # only an open callback ticket


class Actions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str | None = Field(default=None, min_length=1, max_length=80)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    min_priority: Literal["low", "normal", "high", "urgent"] | None = None  # raise to at least
    category: str | None = Field(default=None, min_length=1, max_length=20)
    tags: list[str] | None = Field(default=None, max_length=20)
    skill: str | None = Field(default=None, min_length=1, max_length=80)
    assignee_id: int | None = Field(default=None, gt=0)
    team: str | None = Field(default=None, min_length=1, max_length=80)
    strategy: Literal["manual", "round_robin", "least_busy", "skills", "last_agent"] | None = None
    sla_policy: str | None = Field(default=None, min_length=1, max_length=80)
    acknowledgement: str | None = Field(default=None, min_length=1, max_length=200)  # a template, or "none"
    join_open_ticket: JoinOpenTicket | None = None
    call: Literal["ticket", "log", "callback"] | None = None
    # makes the ticket a complaint of this category (a key of the admin's list, ``routing.complaints``)
    complaint_category: str | None = Field(default=None, min_length=1, max_length=40)

    @field_validator("complaint_category")
    @classmethod
    def _category_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        key = value.strip().lower()
        if not COMPLAINT_KEY.match(key):
            raise ValueError("a complaint category key is lower-case letters, digits or dashes")
        return key

    @field_validator("tags")
    @classmethod
    def _tidy_tags(cls, value: list[str] | None) -> list[str] | None:
        """Tags spelled as the ticket will carry them (``routing.tags.tidy_tag``), so a diff shows no false change."""
        if value is None:
            return None
        try:
            return sorted({tidy_tag(tag) for tag in value})
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in {c.value for c in Category}:
            raise ValueError(f"unknown category {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Actions:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rule needs at least one action")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    groups: list[Group] = Field(min_length=1, max_length=20)
    actions: Actions
    stop: bool = False

    @field_validator("name")
    @classmethod
    def _tidy(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a rule needs a name")
        return value


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(max_length=MAX_RULES)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        conditions = [c for rule in self.rules for g in rule.groups for c in g.conditions]
        if len(conditions) > MAX_CONDITIONS_TOTAL:
            raise ValueError(f"at most {MAX_CONDITIONS_TOTAL:,} conditions in all, not {len(conditions):,}")
        keywords = sum(len(c.value) for c in conditions if c.op == "contains_any" and isinstance(c.value, list))
        if keywords > MAX_KEYWORDS_TOTAL:
            raise ValueError(f"at most {MAX_KEYWORDS_TOTAL:,} keywords in all, not {keywords:,}")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name.casefold() in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name.casefold())
        return self


def parse_rules(data: Any) -> RuleSet:
    """Validate ops' rules; ``InvalidInput`` lists every problem with its field path."""
    if isinstance(data, list):
        data = {"rules": data}
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]) or "rules", "message": err["msg"].removeprefix("Value error, ")}
                  for err in exc.errors(include_input=False, include_url=False)]
        raise InvalidInput("the routing rules are not valid", {"errors": errors}) from None


def rules_data(rule_set: RuleSet) -> list[dict[str, Any]]:
    """Plain data, without defaults left unset: what is stored, exported and diffed."""
    return [rule.model_dump(exclude_none=True, exclude_defaults=False) for rule in rule_set.rules]
