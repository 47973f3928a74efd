"""Tier rules as data: parsed and checked without ``eval``, then applied to what we know of a
customer (``core.tier_facts.CustomerFacts``).

A rule is a name, the tier it gives and conditions that must all hold (none: it matches
everyone, a catch-all to put last). The first enabled rule that matches gives the tier and
the reason shown on the customer's page: ``rule 'High value': lifetime_value >= 10000``.
A refused rule names the exact input (``rules[0].conditions[1].value``), so the admin page
can point at it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from core.errors import InvalidInput
from core.records import Tier

# Counts over a window of days (``days``; none: all time), per customer.
COUNT_FIELDS = ("contacts", "calls", "emails", "web_requests", "tickets", "complaints")
FIELDS = (*COUNT_FIELDS, "days_since_last_contact", "attribute")
NUMBER_OPS = (">=", ">", "<=", "<", "=", "!=")
OPS = (*NUMBER_OPS, "in")
MAX_RULES = 50
MAX_CONDITIONS = 10
MAX_DAYS = 3650
NAME_CAP = 100
VALUE_CAP = 200
REASON_CAP = 200  # Customer.tier_reason's length
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
NO_RULE_TIER = Tier.STANDARD.value
NO_RULE_REASON = "no tier rule matched"

_LABELS = {"contacts": "contacts", "calls": "calls", "emails": "emails", "web_requests": "web requests",
           "tickets": "tickets", "complaints": "complaints", "days_since_last_contact": "days since last contact"}


@dataclasses.dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: Any  # int or float for counts and numbers; str, or a tuple of str for "in"
    days: int | None = None  # the window of a count
    attribute: str = ""  # for field "attribute"

    def describe(self) -> str:
        """How the reason on the customer's page spells it: ``contacts in 30 days >= 5``."""
        if self.field == "attribute":
            subject = self.attribute
        else:
            subject = _LABELS[self.field] + (f" in {self.days} days" if self.days else "")
        shown = ", ".join(self.value) if isinstance(self.value, tuple) else _number_text(self.value)
        return f"{subject} {self.op} {shown}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op,
                "value": list(self.value) if isinstance(self.value, tuple) else self.value,
                "days": self.days, "attribute": self.attribute}


@dataclasses.dataclass(frozen=True, slots=True)
class TierRule:
    name: str
    tier: str
    conditions: tuple[Condition, ...] = ()
    enabled: bool = True

    def reason(self) -> str:
        said = f"rule '{self.name}'"
        if self.conditions:
            said += ": " + " and ".join(c.describe() for c in self.conditions)
        return said[:REASON_CAP]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tier": self.tier, "enabled": self.enabled,
                "conditions": [c.as_dict() for c in self.conditions]}


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _refuse(message: str, field: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, {"field": field, **details})


def typed_number(value: Any) -> float | int | None:
    """A number, from JSON or from a form's text (``"10000"``, ``"2.5"``); None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):  # "10,000"
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    return None


def parse_condition(data: Any, where: str) -> Condition:
    if not isinstance(data, dict):
        raise _refuse("a condition must be an object", where)
    field = data.get("field")
    if field not in FIELDS:
        raise _refuse("unknown condition field", f"{where}.field", allowed=list(FIELDS))
    op = data.get("op")
    if op not in OPS or (field != "attribute" and op == "in"):
        raise _refuse("unknown operator for this field", f"{where}.op",
                      allowed=list(OPS if field == "attribute" else NUMBER_OPS))
    days: int | None = None
    raw_days = data.get("days")
    if field in COUNT_FIELDS and raw_days not in (None, ""):
        number = typed_number(raw_days)
        if not isinstance(number, int) or not 1 <= number <= MAX_DAYS:
            raise _refuse("days must be a whole number from 1 to 3650", f"{where}.days", max=MAX_DAYS)
        days = number
    attribute = ""
    if field == "attribute":
        raw_name = data.get("attribute")
        attribute = raw_name.strip() if isinstance(raw_name, str) else ""
        if not ATTRIBUTE_NAME.fullmatch(attribute):
            raise _refuse("name the attribute (letters, digits, _ . -; up to 40)", f"{where}.attribute")
    raw = data.get("value")
    value: Any
    if op == "in":
        items = raw if isinstance(raw, list) else str(raw or "").split(",")
        value = tuple(str(item).strip() for item in items if str(item).strip())
        if not value or sum(len(v) for v in value) > VALUE_CAP:
            raise _refuse("list one or more values, separated by commas", f"{where}.value")
    else:
        number = typed_number(raw)
        if field != "attribute":
            if number is None or number < 0:
                raise _refuse("must be a number, 0 or more", f"{where}.value")
            value = number
        elif number is not None:
            value = number
        elif isinstance(raw, str) and raw.strip() and len(raw) <= VALUE_CAP and op in ("=", "!="):
            value = raw.strip()
        elif isinstance(raw, str) and raw.strip() and len(raw) <= VALUE_CAP:
            raise _refuse("comparing with < or > needs a number", f"{where}.value")
        else:
            raise _refuse("give a value to compare with", f"{where}.value")
    return Condition(field, op, value, days, attribute)


def parse_rules(data: Any, where: str = "rules") -> list[TierRule]:
    """The admin's rules, in order, every part checked; the first problem is an
    ``InvalidInput`` naming its input."""
    if not isinstance(data, list):
        raise _refuse("rules must be a list", where)
    if len(data) > MAX_RULES:
        raise _refuse("at most 50 rules", where, max=MAX_RULES)
    rules: list[TierRule] = []
    seen: set[str] = set()
    tiers = [t.value for t in Tier]
    for i, item in enumerate(data):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise _refuse("a rule must be an object", at)
        raw_name = item.get("name")
        name = raw_name.strip() if isinstance(raw_name, str) else ""
        if not name or len(name) > NAME_CAP:
            raise _refuse("give the rule a name (up to 100 characters)", f"{at}.name", max=NAME_CAP)
        if name.casefold() in seen:
            raise _refuse("two rules have this name", f"{at}.name", name=name)
        seen.add(name.casefold())
        if item.get("tier") not in tiers:
            raise _refuse("unknown tier", f"{at}.tier", allowed=tiers)
        conditions = item.get("conditions") or []
        if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
            raise _refuse("conditions must be a list of at most 10", f"{at}.conditions", max=MAX_CONDITIONS)
        parsed = tuple(parse_condition(c, f"{at}.conditions[{j}]") for j, c in enumerate(conditions))
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _refuse("enabled must be true or false", f"{at}.enabled")
        rules.append(TierRule(name, str(item["tier"]), parsed, enabled))
    return rules


def compare(actual: Any, op: str, expected: Any) -> bool:
    """One comparison; a value that is missing or of another kind does not match (except !=)."""
    if op == "in":
        return actual is not None and str(actual).strip().casefold() in {v.casefold() for v in expected}
    if isinstance(expected, str):
        same = actual is not None and str(actual).strip().casefold() == expected.casefold()
        return same if op == "=" else not same
    number = typed_number(actual)
    if number is None:
        return op == "!="
    return {">=": number >= expected, ">": number > expected, "<=": number <= expected, "<": number < expected,
            "=": number == expected, "!=": number != expected}[op]


def first_match(rules: list[TierRule], value_of: Any) -> tuple[str, str]:
    """The tier and reason of the first enabled rule whose conditions all hold;
    ``value_of(condition)`` reads the customer's value for a condition."""
    for rule in rules:
        if rule.enabled and all(compare(value_of(c), c.op, c.value) for c in rule.conditions):
            return rule.tier, rule.reason()
    return NO_RULE_TIER, NO_RULE_REASON
