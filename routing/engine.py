"""The rules engine: a validated rule set compiled once, then a decision per contact.

Conditions are compiled to small functions over ``Facts`` (what the contact carries, its
customer, and — read only when a rule that may still match needs it — the customer's
tickets). Keyword conditions go through the template matcher's automaton over the same
folded text, so ``退款``, ``退款`` in full width and ``REFUND`` match as they do for templates.
Each decision says which rules matched, the version, and why.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from core.keyword_matcher import KeywordMatcher, TemplateKeywords
from core.normalize import fold
from core.records import TICKET_NUMBER_OFFSET, Category, Customer, Priority
from routing import history
from routing.contact import Contact, Decision
from routing.history import CustomerTickets, OpenTicket
from routing.rules import (
    FIELDS,
    HISTORY_FIELDS,
    PUSH_STRATEGIES,
    Actions,
    Condition,
    JoinOpenTicket,
    Rule,
    RuleSet,
)
from routing.settings import RoutingSettings

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime

_NEED_HISTORY = object()  # a rule's verdict when it depends on the customer's tickets, not read yet
_HOLDS = object()  # a rule's verdict when it matches and nobody reads why (replay)


@dataclasses.dataclass(slots=True)
class Facts:
    """One contact as the rules see it."""

    contact: Contact
    now: datetime
    tags: frozenset[str] = frozenset()
    language: str = ""
    history: CustomerTickets | None = None
    # the keyword automaton's keys found in the subject, in the body (computed once per decision)
    keyword_keys: tuple[set[int], set[int]] | None = None


Predicate = Callable[[Facts], str | None]  # why the condition holds, or None
Test = Callable[[Facts], bool]  # whether it holds: the cheap question asked of every candidate rule


def _domain(address: str | None) -> str:
    return address.rsplit("@", 1)[1].lower() if address and "@" in address else ""


def _country(address: str | None) -> str:
    if not address or not address.startswith("+"):
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(address)) or ""
    except phonenumbers.NumberParseException:
        return ""


_READERS: dict[str, Callable[[Facts], Any]] = {  # how each field is read from the facts
    "channel": lambda f: f.contact.channel,
    "mailbox": lambda f: f.contact.attributes.get("mailbox"),
    "recipient": lambda f: [a.lower() for a in (f.contact.attributes.get("to") or [])],
    "pbx_queue": lambda f: f.contact.queue_hint if f.contact.channel == "voice" else None,
    "dialled_number": lambda f: f.contact.attributes.get("dialled"),
    "sender": lambda f: (f.contact.address or "").lower(),
    "phone_prefix": lambda f: f.contact.address or "",
    "sender_domain": lambda f: _domain(f.contact.address),
    "country": lambda f: _country(f.contact.address),
    "tier": lambda f: f.contact.customer_tier,
    "customer_tag": lambda f: list(f.tags),
    "language": lambda f: f.language,
    "known_customer": lambda f: f.contact.customer_id is not None,
    "reply": lambda f: f.contact.ticket_id is not None,
    "callback": lambda f: bool(f.contact.attributes.get("callback")),
    "automatic": lambda f: bool(f.contact.attributes.get("automatic")),
    "join_requested": lambda f: bool(f.contact.attributes.get("join")),
    # the top suggested reply template of a mail and its category (set by the mail ingest)
    "template": lambda f: f.contact.attributes.get("template"),
    "template_category": lambda f: f.contact.attributes.get("template_category"),
}


# Each flag's reader is its test when the rule wants it set; these are the tests when it wants it unset.
_UNLESS: dict[str, Callable[[Facts], bool]] = {
    "known_customer": lambda f: f.contact.customer_id is None,
    "reply": lambda f: f.contact.ticket_id is None,
    "callback": lambda f: not f.contact.attributes.get("callback"),
    "automatic": lambda f: not f.contact.attributes.get("automatic"),
    "join_requested": lambda f: not f.contact.attributes.get("join"),
}


def _text_of(field: str) -> Callable[[Facts], Any]:
    return _READERS[field]


def _keys_of(field: str) -> Callable[[Facts], str | list[str] | None]:
    """A field's value(s) as list conditions and the index compare them: case-folded, None when empty.

    One reader serves both the index lookup and the condition, so the two can never disagree.
    """
    special = _FOLDED_READERS.get(field)
    if special is not None:
        return special
    read = _READERS[field]

    def keys(f: Facts) -> str | list[str] | None:
        got = read(f)
        if isinstance(got, list):
            return [str(v).casefold() for v in got]
        return str(got).casefold() if got else None

    return keys


def _folded_sender(f: Facts) -> str | None:
    address = f.contact.address
    return address.lower().casefold() if address else None


def _folded_domain(f: Facts) -> str | None:
    address = f.contact.address
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].lower().casefold() or None


# The hot fields, read without the generic wrapper (each gives what ``_keys_of``'s wrapper would).
_FOLDED_READERS: dict[str, Callable[[Facts], str | list[str] | None]] = {
    "channel": lambda f: f.contact.channel.casefold() or None,
    "tier": lambda f: f.contact.customer_tier.casefold() or None if f.contact.customer_tier else None,
    "sender": _folded_sender,
    "sender_domain": _folded_domain,
}


def _age_hours(facts: Facts, open_ticket: OpenTicket) -> float:
    return (facts.now - as_utc(open_ticket.updated_at)).total_seconds() / 3600


class _Keywords:
    """One automaton over every keyword condition of the set; each condition remembers its scope.

    A contact's subject and body are folded once and run through the automaton once; what a
    contact keeps is the two sets of automaton keys found (in the subject, in the body). A
    condition holds when one of its own keys (a table built with the set) is among them, so
    the cost per contact does not grow with the number of keyword rules, and nothing is built
    per condition unless its rule matches and its reason is written.
    """

    def __init__(self) -> None:
        self.entries: list[TemplateKeywords] = []
        self.scopes: list[str] = []
        self.matcher: KeywordMatcher | None = None
        self.in_subject: list[tuple[tuple[int, str], ...]] = []  # automaton key → (condition, phrase) it satisfies in a subject
        self.in_body: list[tuple[tuple[int, str], ...]] = []
        self.subject_keys: list[frozenset[int]] = []  # condition → the automaton keys that satisfy it in a subject
        self.body_keys: list[frozenset[int]] = []
        self.phrases: list[dict[int, str]] = []  # condition → automaton key → the phrase as written
        self.scanned: str | None = None  # the last text scanned (a string is never changed), and the keys found in it
        self.scanned_keys: tuple[set[int], set[int]] = (set(), set())

    def add(self, scope: str, words: list[str]) -> int:
        key = len(self.entries)
        self.entries.append(TemplateKeywords(key, str(key), "", tuple((w, 1.0) for w in words)))
        self.scopes.append(scope)
        return key

    def build(self) -> None:
        self.matcher = KeywordMatcher(self.entries) if self.entries else None
        subject_keys: list[set[int]] = [set() for _ in self.entries]
        body_keys: list[set[int]] = [set() for _ in self.entries]
        self.phrases[:] = [{} for _ in self.entries]  # in place, as below
        if self.matcher is not None:
            owners = self.matcher.owners()
            scopes = self.scopes
            self.in_subject = [tuple(o for o in pairs if scopes[o[0]] != "body") for pairs in owners]
            self.in_body = [tuple(o for o in pairs if scopes[o[0]] != "subject") for pairs in owners]
            for found_key, pairs in enumerate(owners):
                for condition, phrase in pairs:
                    self.phrases[condition][found_key] = phrase
                    if scopes[condition] != "body":
                        subject_keys[condition].add(found_key)
                    if scopes[condition] != "subject":
                        body_keys[condition].add(found_key)
        self.subject_keys[:] = [frozenset(k) for k in subject_keys]  # in place: the tests compiled already hold these lists
        self.body_keys[:] = [frozenset(k) for k in body_keys]

    def found(self, facts: Facts) -> tuple[set[int], set[int]]:
        """The automaton keys found in the contact's subject, and in its body (once per decision)."""
        found = facts.keyword_keys
        if found is None:
            matcher = self.matcher
            contact = facts.contact
            if matcher is None:
                found = (set(), set())
            else:
                folded = contact.folded
                if folded is None:
                    subject = contact.subject
                    if "\x00" in subject:  # the separator of the two parts (a NUL in a subject is junk anyway)
                        subject = subject.replace("\x00", " ")
                    folded = contact.folded = fold(subject + "\x00" + contact.body)
                if folded is self.scanned:  # the same text the other engine of a pair (replay) just scanned
                    found = self.scanned_keys
                else:
                    found = matcher.found_in_parts(folded)
                    self.scanned, self.scanned_keys = folded, found
            facts.keyword_keys = found
        return found

    def why(self, key: int, where: str) -> Callable[[Facts], str]:
        """The keyword condition's reason once it holds: the phrases found, as the predicate writes them."""
        subject_keys, body_keys, phrases, found = self.subject_keys, self.body_keys, self.phrases, self.found

        def keyword(f: Facts) -> str:
            in_subject, in_body = f.keyword_keys or found(f)
            mine_in_subject, mine_in_body, written = subject_keys[key], body_keys[key], phrases[key]
            subject = [written[k] for k in in_subject if k in mine_in_subject]  # a contact has few keys found
            body = [written[k] for k in in_body if k in mine_in_body]
            if len(subject) + len(body) == 1:
                return f"keyword {(subject or body)[0]}{where}"
            return f"keyword {', '.join(dict.fromkeys(sorted(subject) + sorted(body)))}{where}"

        return keyword

    def test(self, key: int) -> Test:
        subject_keys, body_keys, found = self.subject_keys, self.body_keys, self.found

        def keyword(f: Facts) -> bool:
            in_subject, in_body = f.keyword_keys or found(f)
            return not subject_keys[key].isdisjoint(in_subject) or not body_keys[key].isdisjoint(in_body)

        return keyword


def _compile_condition(cond: Condition, keywords: _Keywords, calendars: Mapping[str, WorkingTime]) -> Predicate:
    field, op, value = cond.field, cond.op, cond.value
    if field in ("keywords", "subject_keywords", "body_keywords"):
        scope = {"keywords": "any", "subject_keywords": "subject", "body_keywords": "body"}[field]
        assert isinstance(value, list)
        key = keywords.add(scope, value)
        where = {"any": "", "subject": " in the subject", "body": " in the body"}[scope]

        def keyword(f: Facts) -> str | None:
            in_subject, in_body = f.keyword_keys or keywords.found(f)
            phrases = keywords.phrases[key]
            subject = [phrases[k] for k in keywords.subject_keys[key] & in_subject]
            body = [phrases[k] for k in keywords.body_keys[key] & in_body]
            if not subject and not body:
                return None
            found = dict.fromkeys(sorted(subject) + sorted(body))
            return f"keyword {', '.join(found)}{where}"

        return keyword
    if field == "open_ticket":

        def open_ticket(f: Facts) -> str | None:
            assert f.history is not None
            o = f.history.open_ticket
            if op == "exists":
                return f"open ticket: {'yes' if o else 'no'}" if (o is not None) == value else None
            if o is None:
                return None
            hours = _age_hours(f, o)
            assert isinstance(value, int)
            if op == "updated_within_hours":
                return f"open ticket updated within {value} h" if hours <= value else None
            return f"open ticket older than {value} h" if hours > value else None

        return open_ticket
    if field == "business_hours":
        assert isinstance(value, list)
        names = list(value)
        found = [calendars.get(name) for name in names]

        def business_hours(f: Facts) -> str | None:
            open_in = None
            for name, calendar in zip(names, found, strict=True):
                if calendar is None:  # removed since the rules were saved: the contact goes to the default queue
                    raise LookupError(f"no business calendar named {name!r}")
                if open_in is None and calendar.is_open(f.now):
                    open_in = name
            if op == "open_in":
                return f"inside the business hours of {open_in}" if open_in is not None else None
            return f"outside the business hours of {', '.join(names)}" if open_in is None else None

        return business_hours
    if field == "open_callback":

        def open_callback(f: Facts) -> str | None:
            has = f.history is not None and f.history.open_callback is not None
            return f"open callback: {'yes' if has else 'no'}" if has == value else None

        return open_callback
    read = _text_of(field)
    if op == "is":

        def flag(f: Facts) -> str | None:
            return f"{field} = {'yes' if value else 'no'}" if read(f) == value else None

        return flag
    assert isinstance(value, list)
    if op == "starts_with":
        prefixes = tuple(value)

        def starts(f: Facts) -> str | None:
            text = read(f) or ""
            hit = next((p for p in prefixes if text.startswith(p)), None)
            return f"{field} starts with {hit}" if hit else None

        return starts
    wanted = frozenset(v.casefold() for v in value)
    negate = op == "not_in"

    def member(f: Facts) -> str | None:
        got = read(f)
        hit = None
        if isinstance(got, list):
            for v in got:
                folded = str(v).casefold()
                if folded in wanted:
                    hit = folded
                    break
        elif got:
            folded = str(got).casefold()
            if folded in wanted:
                hit = folded
        if negate:
            return f"{field} not {', '.join(value)}" if hit is None else None
        return f"{field} = {hit}" if hit is not None else None

    return member


def _compile_test(cond: Condition, keyword_key: int | None, keywords: _Keywords, predicate: Predicate) -> Test:
    """The yes/no of a condition without its reason: what candidates are checked with.

    Only the conditions of every contact's path get their own; any other (tickets, calendars,
    fields added later) asks its predicate, which says the same by answering at all.
    """
    field, op, value = cond.field, cond.op, cond.value
    if keyword_key is not None:
        return keywords.test(keyword_key)
    if field in HISTORY_FIELDS or field not in _READERS:
        return lambda f: predicate(f) is not None
    if op == "is":
        if field in _UNLESS:  # a flag's reader is its test (one call per candidate, not three)
            return _READERS[field] if value else _UNLESS[field]
        read = _READERS[field]
        return lambda f: bool(read(f) == value)
    if op == "starts_with" and isinstance(value, list):
        prefixes = tuple(value)
        read = _READERS[field]
        return lambda f: (read(f) or "").startswith(prefixes)
    if op in ("in", "not_in") and isinstance(value, list):
        wanted = frozenset(v.casefold() for v in value)
        keys = _keys_of(field)
        negate = op == "not_in"

        def member(f: Facts) -> bool:
            got = keys(f)
            if got is None:
                return negate
            if isinstance(got, str):
                return (got in wanted) != negate
            return (not wanted.isdisjoint(got)) != negate

        return member
    return lambda f: predicate(f) is not None


Explain = str | Callable[[Facts], str]  # a condition's reason once it holds: fixed text, or read from the contact


def _compile_explain(cond: Condition, keyword_key: int | None, keywords: _Keywords, predicate: Predicate) -> Explain:
    """What ``predicate`` says of a condition that holds, without asking again whether it does.

    Most reasons are fixed text ("tier = vip", "callback = no"), so a rule of only such
    conditions has its whole reason written once, when the rules are compiled.
    """
    field, op, value = cond.field, cond.op, cond.value
    if keyword_key is not None:
        where = {"keywords": "", "subject_keywords": " in the subject", "body_keywords": " in the body"}[field]
        return keywords.why(keyword_key, where)
    if field in HISTORY_FIELDS or field not in _READERS:
        return lambda f: predicate(f) or ""
    if op == "is":
        return f"{field} = {'yes' if value else 'no'}"
    if op == "not_in" and isinstance(value, list):
        return f"{field} not {', '.join(value)}"
    if op == "starts_with" and isinstance(value, list):
        if len(value) == 1:
            return f"{field} starts with {value[0]}"
        return lambda f: predicate(f) or ""
    if op == "in" and isinstance(value, list):
        wanted = frozenset(v.casefold() for v in value)
        if len(wanted) == 1:
            return f"{field} = {next(iter(wanted))}"
        keys = _keys_of(field)

        def member(f: Facts) -> str:
            got = keys(f)
            hit = got if isinstance(got, str) else next((v for v in got or () if v in wanted), None)
            return f"{field} = {hit}"

        return member
    return lambda f: predicate(f) or ""


@dataclasses.dataclass(slots=True)
class CompiledRule:
    rule: Rule
    groups: list[tuple[Literal["all", "any"], list[tuple[Predicate, bool]]]]
    actions: CompiledActions
    tests: list[list[Test]] = dataclasses.field(default_factory=list)  # per group, per condition: holds or not
    anchor: int | None = None  # the condition of a one-group rule that being a candidate already proves
    explains: list[Explain] = dataclasses.field(default_factory=list)  # of a one-group rule: each condition's reason
    prefix: str = ""  # of its reason, "rule 'name' vN: "

    simple: bool = False  # one ``all`` group that reads no tickets
    rest: tuple[Test, ...] = ()  # ... and the tests left to ask of a candidate (its anchor is known to hold)
    every: tuple[Test, ...] = ()  # ... and all of its tests (every rule tried, without the index)
    reason: str | None = None  # ... and its whole reason, when every condition's is fixed text

    def __post_init__(self) -> None:
        if len(self.groups) == 1 and self.groups[0][0] == "all" and not any(h for _p, h in self.groups[0][1]):
            self.simple = True
            self.every = tuple(self.tests[0])
            self.rest = tuple(t for n, t in enumerate(self.tests[0]) if n != self.anchor)
            if all(isinstance(e, str) for e in self.explains):
                self.reason = self.prefix + " and ".join(e for e in self.explains if isinstance(e, str))

    def check(self, facts: Facts, anchored: bool = True, explain: bool = True) -> str | object | None:
        """Why it matches (the reason the timeline shows), None when it does not, ``_NEED_HISTORY`` when
        that depends on tickets not read.

        ``anchored``: the rule is a candidate of the index, so its anchor condition holds.
        ``explain=False``: ``_HOLDS`` instead of the reason when it matches.
        """
        if self.simple:  # the common shape, without the general bookkeeping
            for test in self.rest if anchored else self.every:
                if not test(facts):
                    return None
            if not explain:
                return _HOLDS
            if not anchored:  # the reference: each condition's predicate says why, no shortcut
                return self.prefix + " and ".join([p(facts) or "" for p, _h in self.groups[0][1]])
            if self.reason is not None:
                return self.reason
            return self.prefix + " and ".join([e if isinstance(e, str) else e(facts) for e in self.explains])
        saying: list[Predicate] = []  # the conditions whose reasons a match writes, asked only once it matches
        pending = False
        for (mode, conditions), tests in zip(self.groups, self.tests, strict=True):
            hits: list[Predicate] = []
            unknown = False
            holds = mode == "all"
            for (predicate, needs_history), test in zip(conditions, tests, strict=True):
                if needs_history and facts.history is None:
                    unknown = True
                    continue
                if mode == "all":
                    if not test(facts):
                        return None
                    hits.append(predicate)
                elif test(facts):
                    hits, holds = [predicate], True
                    break
            if not holds:
                if not unknown:
                    return None
                pending = True
            elif unknown and mode == "all":
                pending = True
            saying.extend(hits)
        if pending:
            return _NEED_HISTORY
        if not explain:
            return _HOLDS
        return self.prefix + (" and ".join([p(facts) or "" for p in saying]) or "every contact")


_FLAG_FIELDS = frozenset(f for f, ops in FIELDS.items() if ops == ("is",))
# Fields with few distinct values make poor anchors: a rule is filed under them only when it has no better one.
_BROAD_FIELDS = _FLAG_FIELDS | {"channel", "tier", "language", "country", "pbx_queue", "mailbox", "template_category"}


class _CandidateIndex:
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
        self.readers: list[tuple[Callable[[Facts], str | list[str] | None], dict[str, int]]] = []
        self.flag_readers: list[tuple[Callable[[Facts], Any], dict[Any, int]]] = []

    @staticmethod
    def _anchor(cond: Condition, keyword_key: int | None) -> list[tuple[str, Any]] | None:
        if keyword_key is not None:
            return [("kw", keyword_key)]
        if cond.field not in _READERS:  # read its own way (see ``_compile_condition``): checked, never looked up
            return None
        if cond.op == "in" and isinstance(cond.value, list):
            return [(cond.field, v.casefold()) for v in cond.value]
        if cond.op == "is" and cond.field in _FLAG_FIELDS:
            return [(cond.field, cond.value)]
        if cond.op == "starts_with" and isinstance(cond.value, list):
            return [("phone_prefix", v) for v in cond.value]
        return None

    @staticmethod
    def _cost(anchor: list[tuple[str, Any]]) -> int:
        """About how many contacts an anchor lets through: few values of a selective field is best."""
        return sum(1000 if field in _BROAD_FIELDS else 1 for field, _value in anchor)

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
            elif field in _FLAG_FIELDS:
                flags = self.flags.setdefault(field, {})
                flags[value] = flags.get(value, 0) | bit
            else:
                members = self.members.setdefault(field, {})
                members[value] = members.get(value, 0) | bit
        return anchor if len(rule.groups) == 1 else None

    def build(self, keywords: _Keywords) -> None:
        """Bind each field's reader and map each automaton key straight to the rules it makes candidates."""
        self.readers = [(_keys_of(field), values) for field, values in self.members.items()]
        self.flag_readers = [(_READERS[field], values) for field, values in self.flags.items()]
        by_key = self.by_key
        self.in_subject = [_bits(by_key.get(("kw", c), 0) for c, _p in pairs) for pairs in keywords.in_subject]
        self.in_body = [_bits(by_key.get(("kw", c), 0) for c, _p in pairs) for pairs in keywords.in_body]

    def found(self, facts: Facts, keywords: _Keywords) -> int:
        """The rules that may match, as bits (one integer OR per value the contact has)."""
        found = self.always
        for keys, values in self.readers:
            got = keys(facts)
            if got is None:
                continue
            if isinstance(got, str):
                found |= values.get(got, 0)
            else:
                for value in got:
                    found |= values.get(value, 0)
        for read, flags in self.flag_readers:
            found |= flags.get(read(facts), 0)
        if self.prefixes:
            address = facts.contact.address or ""
            for length, prefixes in self.prefixes.items():
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


def _priority(name: str) -> int:
    return Priority[name.upper()].value


_PLAIN_ACTIONS = ("queue", "category", "skill", "assignee_id", "team", "strategy", "sla_policy", "acknowledgement", "call")


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledActions:
    """A rule's actions as the few assignments they make: nothing to look up per decision."""

    sets: tuple[tuple[str, Any], ...]
    min_priority: int | None
    tags: frozenset[str] | None

    @classmethod
    def of(cls, actions: Actions) -> CompiledActions:
        sets = [(name, getattr(actions, name)) for name in _PLAIN_ACTIONS if getattr(actions, name) is not None]
        if actions.priority is not None:
            sets.append(("priority", _priority(actions.priority)))
        return cls(tuple(sets), _priority(actions.min_priority) if actions.min_priority is not None else None,
                   frozenset(actions.tags) if actions.tags is not None else None)

    def apply(self, decision: Decision) -> None:
        for name, value in self.sets:
            setattr(decision, name, value)
        if self.min_priority is not None and decision.priority < self.min_priority:
            decision.priority = self.min_priority
        if self.tags is not None:
            decision.tags = sorted(self.tags.union(decision.tags))


def _held_customer(session: AsyncSession, customer_id: int) -> Customer | None:
    """The customer as the session holds it, with what the rules read loaded; None to ask ``session.get``.

    Batches (the importer, replay) hold their customers: a dictionary lookup instead of an
    awaited ``get`` (about 13 µs each, twice per contact in a replay).
    """
    held = session.identity_map.get((Customer, (customer_id,), None))
    if held is None:
        return None
    loaded = vars(held)  # an expired attribute is not there: reading it would load it
    return held if isinstance(held, Customer) and "tags" in loaded and "language" in loaded else None


def _reads_tickets(rule: Rule) -> bool:
    """Whether the rule asks about, or its actions act on, the customer's tickets (see ``RuleEngine._resolve``)."""
    actions = rule.actions
    return (actions.join_open_ticket is not None or actions.call in ("callback", "log") or actions.strategy == "last_agent"
            or any(c.field in HISTORY_FIELDS for g in rule.groups for c in g.conditions))


def _scope(rule: Rule) -> tuple[frozenset[str] | None, frozenset[str], bool | None]:
    """The channels a rule can match (None: any), those it cannot, and whether only known (or unknown) customers."""
    allowed: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()
    known: bool | None = None
    for group in rule.groups:
        if group.mode != "all" and len(group.conditions) > 1:
            continue
        for c in group.conditions:
            if c.field == "channel" and isinstance(c.value, list):
                values = frozenset(v.casefold() for v in c.value)
                if c.op == "in":
                    allowed = values if allowed is None else allowed & values
                else:
                    excluded |= values
            elif c.field == "known_customer" and c.op == "is" and isinstance(c.value, bool):
                known = c.value
    return allowed, excluded, known


_OTHER = Category.OTHER.value  # read once: an enum member's value is a slow attribute


class RuleEngine:
    """Immutable once built: saving rules builds a new engine, swapped in whole."""

    def __init__(self, rule_set: RuleSet, version: int, settings: RoutingSettings,
                 calendars: Mapping[str, WorkingTime] | None = None, indexed: bool = True,
                 keywords: _Keywords | None = None) -> None:
        """``indexed=False`` tries every rule with every condition: the reference the index is tested against.

        ``keywords``: an automaton shared with another engine, built by the caller (see ``pair``).
        """
        self.rule_set = rule_set
        self.calendars: Mapping[str, WorkingTime] = calendars or {}
        self.version = version
        self.settings = settings
        self.indexed = indexed
        self._keywords = keywords or _Keywords()
        self._index = _CandidateIndex()
        self.rules: list[CompiledRule] = []
        for rule in rule_set.rules:
            if not rule.enabled:
                continue
            keyword_keys: dict[int, int] = {}  # id(condition) → its key in the keyword automaton
            groups = []
            tests = []
            explains: list[Explain] = []
            for g in rule.groups:
                compiled = []
                group_tests = []
                for c in g.conditions:
                    before = len(self._keywords.entries)
                    predicate = _compile_condition(c, self._keywords, self.calendars)
                    keyword_key = before if len(self._keywords.entries) > before else None
                    if keyword_key is not None:
                        keyword_keys[id(c)] = keyword_key
                    compiled.append((predicate, c.field in HISTORY_FIELDS))
                    group_tests.append(_compile_test(c, keyword_key, self._keywords, predicate))
                    if len(rule.groups) == 1:
                        explains.append(_compile_explain(c, keyword_key, self._keywords, predicate))
                groups.append((g.mode, compiled))
                tests.append(group_tests)
            anchor = self._index.add(len(self.rules), rule, keyword_keys)
            self.rules.append(CompiledRule(rule, groups, CompiledActions.of(rule.actions), tests, anchor, explains,
                                           prefix=f"rule '{rule.name}' v{version}: "))
        self._all = (1 << len(self.rules)) - 1
        self._ticket_readers = [_scope(r.rule) for r in self.rules if _reads_tickets(r.rule)]
        self._queues_read_tickets = "last_agent" in settings.queue_strategies.values()
        if keywords is None:
            self._keywords.build()
            self._index.build(self._keywords)

    @classmethod
    def pair(cls, first: RuleEngine, second: RuleEngine) -> tuple[RuleEngine, RuleEngine]:
        """The two engines rebuilt over one keyword automaton: a contact both decide (replay) is scanned once."""
        shared = _Keywords()
        engines = [cls(e.rule_set, e.version, e.settings, e.calendars, e.indexed, keywords=shared) for e in (first, second)]
        shared.build()
        for engine in engines:
            engine._index.build(shared)
        return engines[0], engines[1]

    def reads_tickets(self, contact: Contact) -> bool:
        """Whether deciding ``contact`` may read the customer's (or sender's) tickets.

        What a batch reads ahead: a mail no rule asks about tickets needs no ticket read. Only
        an optimisation: a contact said not to read that does read still gets its own query.
        """
        if self._queues_read_tickets:
            return True
        channel = contact.channel.casefold()
        known = contact.customer_id is not None
        for allowed, excluded, wants_known in self._ticket_readers:
            if ((allowed is None or channel in allowed) and channel not in excluded
                    and (wants_known is None or wants_known == known)):
                return True
        return False

    def base(self, contact: Contact) -> Decision:
        """The decision before any rule: the default queue for the channel (or the PBX/API queue)."""
        s = self.settings
        return Decision(
            queue=contact.queue_hint or s.queues.get(contact.channel) or contact.channel,
            priority=s.default_priority,
            category=contact.category or _OTHER,
            rule_version=self.version,
        )

    async def decide(self, session: AsyncSession, contact: Contact, now: datetime, explain: bool = True) -> Decision:
        """``explain=False`` (replay, which compares outcomes only): the same decision without the rules' reasons."""
        facts = Facts(contact, as_utc(now))
        if contact.customer_id is not None:
            customer = _held_customer(session, contact.customer_id)
            if customer is None:
                customer = await session.get(Customer, contact.customer_id)
            if customer is not None:
                facts.tags = frozenset(str(t) for t in customer.tags or ())
                facts.language = customer.language or ""
        decision = self.base(contact)
        join: JoinOpenTicket | None = None
        rules = self.rules
        indexed = self.indexed
        found = self._index.found(facts, self._keywords) if indexed else self._all
        while found:  # the candidates, in order: lowest bit first
            low = found & -found
            found ^= low
            compiled = rules[low.bit_length() - 1]
            verdict = compiled.check(facts, indexed, explain)
            if verdict is _NEED_HISTORY:
                facts.history = await self._history(session, contact, facts.now)
                verdict = compiled.check(facts, indexed, explain)
            if verdict is None or verdict is _NEED_HISTORY:
                continue
            compiled.actions.apply(decision)
            rule = compiled.rule
            decision.matched_rule = rule.name
            decision.rules.append(rule.name)
            if explain:
                decision.reasons.append(verdict)  # type: ignore[arg-type]  # a match's verdict is its reason
            join = rule.actions.join_open_ticket or join
            if rule.stop:
                break
        await self._resolve(session, contact, decision, facts, join)
        return decision

    async def _history(self, session: AsyncSession, contact: Contact, now: datetime) -> CustomerTickets:
        if contact.customer_id is not None:
            return await history.customer_tickets(session, contact.customer_id)
        if contact.address:
            return await history.address_tickets(session, contact.channel, contact.address, now)
        return CustomerTickets()

    async def _resolve(self, session: AsyncSession, contact: Contact, decision: Decision, facts: Facts,
                       join: JoinOpenTicket | None) -> None:
        """Which ticket: the thread, a joined open ticket, the call's own ticket turned callback, or new."""
        if contact.ticket_id is not None:
            decision.join_ticket_id = contact.ticket_id
            decision.reasons.append("a reply: threaded by the channel onto its ticket")
        elif decision.call == "callback" and contact.attributes.get("callback"):
            await self._callback(session, contact, decision, facts)
        elif join is not None or decision.call == "log":
            if facts.history is None:
                facts.history = await self._history(session, contact, facts.now)
            callback_only = join is not None and join.callback_only
            found = facts.history.open_callback if callback_only else facts.history.open_ticket
            window = join.within_hours if join is not None else None
            if found is not None and (window is None or _age_hours(facts, found) <= window):
                decision.join_ticket_id = await history.ticket_id_of(session, found.ticket)
                decision.queue = found.queue
                what = "open callback ticket" if callback_only else "open ticket"
                decision.reasons.append(f"joins the {what} #{decision.join_ticket_id + TICKET_NUMBER_OFFSET}"
                                        + (f" (updated within {window} h)" if window else ""))
        queue_strategy = self.settings.queue_strategies.get(decision.queue)
        if decision.strategy is None:
            decision.strategy = queue_strategy
        # Pushed: offered by the assigner. "Last agent" is pushed in a queue that pushes work
        # (offered to them first); in a pull queue it gives the ticket to them.
        pushing = queue_strategy not in (None, "manual")
        decision.push = decision.strategy in PUSH_STRATEGIES or (decision.strategy == "last_agent" and pushing)
        if decision.join_ticket_id is None and decision.assignee_id is None and decision.strategy == "last_agent":
            if facts.history is None:
                facts.history = await self._history(session, contact, facts.now)
            last = facts.history.last_agent
            if last is not None and decision.push:
                decision.preferred_agent_id = last
                decision.reasons.append("offered first to the customer's last agent")
            elif last is not None:
                decision.assignee_id = last
                decision.reasons.append("the customer's last agent")
        decision.weight = self.settings.weights.get(contact.channel, 1)
        wanted = contact.attributes.get("priority")
        if isinstance(wanted, int) and decision.join_ticket_id is None:
            decision.priority = wanted
            decision.reasons.append("priority as sent")

    async def _callback(self, session: AsyncSession, contact: Contact, decision: Decision, facts: Facts) -> None:
        """One open callback per customer: their open callback, else this call's own ticket turned into one."""
        if facts.history is None:
            facts.history = await self._history(session, contact, facts.now)
        open_callback = facts.history.open_callback
        if open_callback is not None:
            decision.join_ticket_id = await history.ticket_id_of(session, open_callback.ticket)
            decision.queue = open_callback.queue
            decision.reasons.append(f"joins the open callback ticket #{decision.join_ticket_id + TICKET_NUMBER_OFFSET}")
            return
        call_ticket = contact.attributes.get("call_ticket_id")
        call_key = contact.attributes.get("call_key")
        if isinstance(call_ticket, int) and isinstance(call_key, str) and await history.opened_by(session, call_ticket, call_key):
            decision.join_ticket_id = call_ticket
            decision.subject = contact.subject
            decision.reasons.append("the call's own ticket becomes the callback ticket")
