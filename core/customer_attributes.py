"""What a CRM tells us about a customer (lifetime_value, contract_level, ...): named, typed
values the tier rules can test. Checked here for the API and the CSV import alike."""

from __future__ import annotations

import math
from typing import Any

from core.errors import InvalidInput
from core.tier_rules import ATTRIBUTE_NAME, typed_number

MAX_ATTRIBUTES = 50
VALUE_CAP = 200
CSV_PREFIX = "attr."  # a CSV column "attr.lifetime_value" fills attribute lifetime_value


def check_attributes(value: Any, field: str = "attributes", *, allow_null: bool = False) -> dict[str, Any]:
    """A mapping of names to text, numbers or true/false (``None``, where allowed: remove it)."""
    if not isinstance(value, dict):
        raise InvalidInput("attributes must be an object of names and values", {"field": field})
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidInput("at most 50 attributes", {"field": field, "max": MAX_ATTRIBUTES})
    for name, item in value.items():
        where = f"{field}.{name}"
        if not isinstance(name, str) or not ATTRIBUTE_NAME.fullmatch(name):
            raise InvalidInput("an attribute name is letters, digits, _ . - (up to 40, a letter first)",
                               {"field": where})
        if item is None and allow_null:
            continue
        if isinstance(item, str):
            if len(item) > VALUE_CAP:
                raise InvalidInput("the value is too long", {"field": where, "max": VALUE_CAP})
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput("must be a finite number", {"field": where})
        elif not isinstance(item, (bool, int)):
            raise InvalidInput("an attribute is text, a number or true/false", {"field": where})
    return dict(value)


def merged_attributes(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` laid over ``current``; a ``None`` value removes that attribute."""
    merged = {**current, **changes}
    merged = {k: v for k, v in merged.items() if v is not None}
    if len(merged) > MAX_ATTRIBUTES:
        raise InvalidInput("at most 50 attributes", {"field": "attributes", "max": MAX_ATTRIBUTES})
    return merged


def typed_cell(text: str) -> Any:
    """A CSV cell as the value it stands for: ``12000`` a number, anything else text."""
    number = typed_number(text)
    return number if number is not None else text
