"""A custom field's value is checked by its type and kept in one canonical spelling, so the
queue filter and search compare like with like."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.records import CustomField
from routing.custom_fields import canonical_value
from routing.ticket_actions import read_actions


def _field(kind: str, required: bool = False, choices: list[str] | None = None) -> CustomField:
    return CustomField(key="f", name="F", kind=kind, choices=choices or [], required=required)


@pytest.mark.parametrize(("kind", "raw", "stored"), [
    ("text", "  two   words ", "two words"),
    ("number", "1,250.50", "1250.5"),
    ("number", 42, "42"),
    ("number", "-3.0", "-3"),
    ("date", "2027-01-31", "2027-01-31"),
    ("choice", "Pro", "Pro"),
    ("text", "", None),
])
def test_values_are_stored_in_one_spelling(kind: str, raw: object, stored: str | None) -> None:
    assert canonical_value(_field(kind, choices=["Basic", "Pro"]), raw) == stored


@pytest.mark.parametrize(("kind", "raw", "reason"), [
    ("number", "twelve", "number"),
    ("number", "nan", "number"),
    ("number", True, "number"),
    ("date", "31/01/2027", "date"),
    ("choice", "Gold", "choice"),
    ("text", "x" * 1001, "length"),
    ("text", {"a": 1}, "text"),
])
def test_bad_values_are_refused_naming_the_field(kind: str, raw: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        canonical_value(_field(kind, choices=["Basic", "Pro"]), raw)
    assert refused.value.details["field"] == "f" and refused.value.details["reason"] == reason


def test_a_required_field_cannot_be_emptied() -> None:
    with pytest.raises(InvalidInput) as refused:
        canonical_value(_field("text", required=True), "  ")
    assert refused.value.details["reason"] == "required"


def test_actions_read_from_a_form_tidy_their_tags_and_refuse_by_name() -> None:
    actions = read_actions({"status": "solved", "assignee": "me", "add_tags": "Refund , VIP,refund", "remove_tags": ""})
    assert actions.add_tags == ("refund", "vip") and actions.remove_tags == () and not actions.is_empty()
    assert read_actions({}).is_empty()
    for data, field in (({"status": "later"}, "status"), ({"assignee": "bob"}, "assignee"),
                        ({"add_tags": [1]}, "add_tags"), ({"add_tags": "a", "remove_tags": "A"}, "remove_tags")):
        with pytest.raises(InvalidInput) as refused:
            read_actions(data)
        assert refused.value.details["field"] == field
