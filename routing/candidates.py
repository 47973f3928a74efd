"""Which rules may match a contact, found by lookups instead of trying every rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from routing.facts import FOLDED_READERS, READERS, Facts, keys_of
from routing.rule_keywords import RuleKeywords
from routing.rules import FIELDS, Condition, Rule

FLAG_FIELDS = frozenset(f for f, ops in FIELDS.items() if ops == ("is",))
# Fields with few distinct values make poor anchors: a rule is filed under them only when it has no better one.
BROAD_FIELDS = FLAG_FIELDS | {"channel", "tier", "language", "country", "pbx_queue", "mailbox", "template_category"}


class CandidateIndex:
    """Which rules may match a contact, found by lookups instead of trying all of them.

    Each rule is filed under an anchor: the values of one condition that must hold for the rule
    to match (a condition of an ``all`` group, or every condition of an ``any`` group). A contact's
    candidates are the rules filed under the values it has, plus the rules without an anchor;
    they are then checked in order as before, so the index only saves work, never changes a result.
    A candidate filed under one condition of its ``all`` group has that condition proved by the
    lookup, so it is not asked again.
    """

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, Any], int] = defaultdict(int)  # anchor value → the rules filed under it, as bits
        self.always = 0  # rules without an anchor, as bits
        self.members: dict[str, dict[str, int]] = {}  # list field → folded value → rules, as bits
        self.flags: dict[str, dict[Any, int]] = {}
        self.prefixes: dict[int, dict[str, int]] = {}  # prefix length → prefix → rules, as bits
        self.keywords = False
        self.in_subject: list[int] = []  # automaton key found in a subject → the rules it makes candidates
        self.in_body: list[int] = []
        self.readers: list[tuple[Callable[[Facts], Any], dict[Any, int]]] = []  # fields of one value (or None) and flags
        self.list_readers: list[tuple[Callable[[Facts], Any], dict[str, int]]] = []
        self.prefix_tables: list[tuple[int, dict[str, int]]] = []

    @staticmethod
    def _anchor(cond: Condition, keyword_key: int | None) -> list[tuple[str, Any]] | None:
        if keyword_key is not None:
            return [("kw", keyword_key)]
        if cond.field not in READERS:  # read its own way (see ``compile_condition``): checked, never looked up
            return None
        if cond.op == "in" and isinstance(cond.value, list):
            return [(cond.field, v.casefold()) for v in cond.value]
        if cond.op == "is" and cond.field in FLAG_FIELDS:
            return [(cond.field, cond.value)]
        if cond.op == "starts_with" and isinstance(cond.value, list):
            return [("phone_prefix", v) for v in cond.value]
        return None

    @staticmethod
    def _cost(anchor: list[tuple[str, Any]]) -> int:
        """About how many contacts an anchor lets through: few values of a selective field is best."""
        return sum(1000 if field in BROAD_FIELDS else 1 for field, _value in anchor)

    def add(self, position: int, rule: Rule, keyword_keys: dict[int, int]) -> int | None:
        """File the rule; the anchor condition's place in a one-group ``all`` rule, else None."""
        best: list[tuple[str, Any]] | None = None
        anchor: int | None = None
        for group in rule.groups:
            anchors = [self._anchor(c, keyword_keys.get(id(c))) for c in group.conditions]
            options: list[tuple[int | None, list[tuple[str, Any]]]]
            if group.mode == "all":
                options = [(n, a) for n, a in enumerate(anchors) if a is not None]
            else:
                options = [(None, [k for a in anchors for k in a])] if all(a is not None for a in anchors) else []  # type: ignore[union-attr]
            for n, option in options:
                if best is None or self._cost(option) < self._cost(best):
                    best, anchor = option, n
        bit = 1 << position
        if best is None:
            self.always |= bit
            return None
        for key in dict.fromkeys(best):
            self.by_key[key] |= bit
            field, value = key
            if field == "kw":
                self.keywords = True
            elif field == "phone_prefix":
                table = self.prefixes.setdefault(len(value), {})
                table[value] = table.get(value, 0) | bit
            elif field in FLAG_FIELDS:
                flags = self.flags.setdefault(field, {})
                flags[value] = flags.get(value, 0) | bit
            else:
                members = self.members.setdefault(field, {})
                members[value] = members.get(value, 0) | bit
        return anchor if len(rule.groups) == 1 else None

    def build(self, keywords: RuleKeywords) -> None:
        """Bind each field's reader and map each automaton key straight to the rules it makes candidates."""
        # A field read as one value (or None: no value, no key of any table, so nothing found without
        # asking) is looked up as it is read; any other field (lists: recipients, tags) value by value.
        self.readers = [(keys_of(field), values) for field, values in self.members.items() if field in FOLDED_READERS]
        self.readers += [(READERS[field], values) for field, values in self.flags.items()]
        self.list_readers = [(keys_of(field), values) for field, values in self.members.items() if field not in FOLDED_READERS]
        self.prefix_tables = sorted(self.prefixes.items())
        by_key = self.by_key
        self.in_subject = [_bits(by_key.get(("kw", c), 0) for c, _p in pairs) for pairs in keywords.in_subject]
        self.in_body = [_bits(by_key.get(("kw", c), 0) for c, _p in pairs) for pairs in keywords.in_body]

    def found(self, facts: Facts, keywords: RuleKeywords) -> int:
        """The rules that may match, as bits (one integer OR per value the contact has)."""
        found = self.always
        for read, values in self.readers:
            found |= values.get(read(facts), 0)
        for keys, values in self.list_readers:
            got = keys(facts)
            if isinstance(got, str):
                found |= values.get(got, 0)
            elif got:
                for value in got:
                    found |= values.get(value, 0)
        if self.prefix_tables:
            address = facts.contact.address or ""
            for length, prefixes in self.prefix_tables:
                found |= prefixes.get(address[:length], 0)
        if self.keywords:
            in_subject, in_body = keywords.found(facts)
            subject_bits, body_bits = self.in_subject, self.in_body
            for key in in_subject:
                found |= subject_bits[key]
            for key in in_body:
                found |= body_bits[key]
        return found


def _bits(parts: Iterable[int]) -> int:
    found = 0
    for part in parts:
        found |= part
    return found
