"""The history's diff names the rules that moved, not the whole new order (issue 12)."""

from __future__ import annotations

from typing import Any

from routing.store import describe_diff


def _rules(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "enabled": True} for n in names]


def test_a_rule_moved_up_is_the_one_named() -> None:
    assert describe_diff(_rules("a", "b", "c", "d"), _rules("a", "b", "d", "c")) == "↕ rule 'd' moved from position 4 to 3"
    assert describe_diff(_rules("a", "b", "c", "d"), _rules("d", "a", "b", "c")) == "↕ rule 'd' moved from position 4 to 1"
    assert describe_diff(_rules("a", "b", "c", "d"), _rules("b", "c", "d", "a")) == "↕ rule 'a' moved from position 1 to 4"


def test_adding_or_removing_a_rule_moves_nothing() -> None:
    assert describe_diff(_rules("a", "b"), _rules("x", "a", "b")) == "+ rule 'x' added at position 1"
    assert describe_diff(_rules("x", "a", "b"), _rules("a", "b")) == "- rule 'x' removed"
    assert describe_diff(_rules("a", "b"), _rules("a", "b")) == "no change"


def test_a_reversal_keeps_the_middle_rule_and_names_each_changed_field() -> None:
    assert describe_diff(_rules("a", "b", "c"), _rules("c", "b", "a")).splitlines() == [
        "↕ rule 'c' moved from position 3 to 1", "↕ rule 'a' moved from position 1 to 3"]
    off = [{"name": "a", "enabled": False}]
    assert describe_diff(_rules("a"), off) == "~ rule 'a': enabled true → false"
