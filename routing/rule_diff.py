"""The readable difference between two versions of the routing rules, in the reader's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

Words = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogues; it is translated where it is shown."""
    return message


def _english(message: str) -> str:
    return message


ADDED = N_("+ rule '%(name)s' added at position %(position)s")
SET = N_("~ rule '%(name)s': %(field)s set to %(value)s")
UNSET = N_("~ rule '%(name)s': %(field)s removed (was %(value)s)")
CHANGED = N_("~ rule '%(name)s': %(field)s %(before)s → %(after)s")
REMOVED = N_("- rule '%(name)s' removed")
MOVED = N_("↕ rule '%(name)s' moved from position %(before)s to %(after)s")
NO_CHANGE = N_("no change")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for n, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{n + 1}]"))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def describe_diff(before: list[dict[str, Any]], after: list[dict[str, Any]], words: Words = _english) -> str:
    """What a person reads in the history: rules added, removed, moved and each changed field.

    Stored in English with each version (the API's ``diff``); the history page draws it again
    through ``words`` (the reader's catalogue) from the two versions' rules."""
    old = {r["name"]: r for r in before}
    new = {r["name"]: r for r in after}
    lines: list[str] = []
    for rule in after:
        name = rule["name"]
        if name not in old:
            lines.append(words(ADDED) % {"name": name, "position": after.index(rule) + 1})
            continue
        was, now = _flatten(old[name]), _flatten(rule)
        for key in sorted(was.keys() | now.keys()):
            if key == "name" or was.get(key) == now.get(key):
                continue
            if key not in was:
                lines.append(words(SET) % {"name": name, "field": key, "value": _show(now[key])})
            elif key not in now:
                lines.append(words(UNSET) % {"name": name, "field": key, "value": _show(was[key])})
            else:
                lines.append(words(CHANGED) % {"name": name, "field": key, "before": _show(was[key]),
                                               "after": _show(now[key])})
    for rule in before:
        if rule["name"] not in new:
            lines.append(words(REMOVED) % {"name": rule["name"]})
    lines += [words(MOVED) % {"name": name, "before": was + 1, "after": now + 1} for name, was, now in _moves(before, after)]
    return "\n".join(lines) or words(NO_CHANGE)


def _moves(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """The rules that moved, each from and to its position: the fewest that explain the new order.

    The longest run of kept rules still in their old relative order stayed put; the others moved.
    (Inserting or removing a rule shifts positions but moves nothing.)
    """
    old_at = {r["name"]: n for n, r in enumerate(before)}
    kept = [(name, old_at[name], n) for n, r in enumerate(after) if (name := r["name"]) in old_at]
    # Longest increasing subsequence of the old positions, in O(n²): rule lists are short. Among
    # equally long ones, the one keeping most rules at their very position (a reversal then says
    # the middle rule stayed).
    best: list[tuple[int, int]] = []
    back: list[int] = []
    for i, (_, was, now) in enumerate(kept):
        score, prev = (1, int(was == now)), -1
        for j in range(i):
            if kept[j][1] < was and (best[j][0] + 1, best[j][1] + int(was == now)) > score:
                score, prev = (best[j][0] + 1, best[j][1] + int(was == now)), j
        best.append(score)
        back.append(prev)
    stayed: set[str] = set()
    i = max(reversed(range(len(kept))), key=best.__getitem__, default=-1)  # ties: the moved rule went up
    while i >= 0:
        stayed.add(kept[i][0])
        i = back[i]
    return [(name, was, now) for name, was, now in kept if name not in stayed]
