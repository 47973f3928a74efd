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
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

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

_NEED_HISTORY = object()  # a rule's verdict when it depends on the customer's tickets, not read yet


@dataclasses.dataclass(slots=True)
class Facts:
    """One contact as the rules see it."""

    contact: Contact
    now: datetime
    tags: frozenset[str] = frozenset()
    language: str = ""
    history: CustomerTickets | None = None
    keyword_hits: dict[int, tuple[str, ...]] | None = None  # keyword condition → phrases found

    def attribute(self, name: str) -> Any:
        return self.contact.attributes.get(name)


Predicate = Callable[[Facts], str | None]  # why the condition holds, or None


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
    "mailbox": lambda f: f.attribute("mailbox"),
    "recipient": lambda f: [a.lower() for a in (f.attribute("to") or [])],
    "pbx_queue": lambda f: f.contact.queue_hint if f.contact.channel == "voice" else None,
    "dialled_number": lambda f: f.attribute("dialled"),
    "sender": lambda f: (f.contact.address or "").lower(),
    "phone_prefix": lambda f: f.contact.address or "",
    "sender_domain": lambda f: _domain(f.contact.address),
    "country": lambda f: _country(f.contact.address),
    "tier": lambda f: f.contact.customer_tier,
    "customer_tag": lambda f: list(f.tags),
    "language": lambda f: f.language,
    "known_customer": lambda f: f.contact.customer_id is not None,
    "reply": lambda f: f.contact.ticket_id is not None,
    "callback": lambda f: bool(f.attribute("callback")),
    "automatic": lambda f: bool(f.attribute("automatic")),
    "join_requested": lambda f: bool(f.attribute("join")),
}


def _text_of(field: str) -> Callable[[Facts], Any]:
    return _READERS[field]


def _age_hours(facts: Facts, open_ticket: OpenTicket) -> float:
    return (facts.now - as_utc(open_ticket.updated_at)).total_seconds() / 3600


class _Keywords:
    """One automaton over every keyword condition of the set; each condition remembers its scope."""

    def __init__(self) -> None:
        self.entries: list[TemplateKeywords] = []
        self.scopes: list[str] = []
        self.matcher: KeywordMatcher | None = None

    def add(self, scope: str, words: list[str]) -> int:
        key = len(self.entries)
        self.entries.append(TemplateKeywords(key, str(key), "", tuple((w, 1.0) for w in words)))
        self.scopes.append(scope)
        return key

    def build(self) -> None:
        self.matcher = KeywordMatcher(self.entries) if self.entries else None

    def hits(self, facts: Facts) -> dict[int, tuple[str, ...]]:
        """Condition → the phrases found in its scope (computed once per contact: two passes of the automaton)."""
        found = facts.keyword_hits
        if found is None:
            found = {}
            matcher = self.matcher
            if matcher is not None:
                in_subject = matcher.templates_found(matcher.found(fold(facts.contact.subject)))
                in_body = matcher.templates_found(matcher.found(fold(facts.contact.body)))
                for key in in_subject.keys() | in_body.keys():
                    scope = self.scopes[key]
                    phrases = (in_subject.get(key, ()) if scope != "body" else ()) + (in_body.get(key, ()) if scope != "subject" else ())
                    if phrases:
                        found[key] = tuple(dict.fromkeys(phrases))
            facts.keyword_hits = found
        return found


def _compile_condition(cond: Condition, keywords: _Keywords) -> Predicate:
    field, op, value = cond.field, cond.op, cond.value
    if field in ("keywords", "subject_keywords", "body_keywords"):
        scope = {"keywords": "any", "subject_keywords": "subject", "body_keywords": "body"}[field]
        assert isinstance(value, list)
        key = keywords.add(scope, value)
        where = {"any": "", "subject": " in the subject", "body": " in the body"}[scope]

        def keyword(f: Facts) -> str | None:
            found = keywords.hits(f).get(key)
            return f"keyword {', '.join(found)}{where}" if found else None

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
        values = [str(v).casefold() for v in got] if isinstance(got, list) else ([str(got).casefold()] if got else [])
        hit = next((v for v in values if v in wanted), None)
        if negate:
            return f"{field} not {', '.join(value)}" if hit is None else None
        return f"{field} = {hit}" if hit is not None else None

    return member


@dataclasses.dataclass(slots=True)
class CompiledRule:
    rule: Rule
    groups: list[tuple[Literal["all", "any"], list[tuple[Predicate, bool]]]]

    def check(self, facts: Facts) -> list[str] | object | None:
        """Why it matches, None when it does not, ``_NEED_HISTORY`` when that depends on tickets not read."""
        reasons: list[str] = []
        pending = False
        for mode, conditions in self.groups:
            hits: list[str] = []
            unknown = False
            holds = mode == "all"
            for predicate, needs_history in conditions:
                if needs_history and facts.history is None:
                    unknown = True
                    continue
                why = predicate(facts)
                if mode == "all":
                    if why is None:
                        return None
                    hits.append(why)
                elif why is not None:
                    hits, holds = [why], True
                    break
            if not holds:
                if not unknown:
                    return None
                pending = True
            elif unknown and mode == "all":
                pending = True
            reasons.extend(hits)
        return _NEED_HISTORY if pending else reasons


_FLAG_FIELDS = frozenset(f for f, ops in FIELDS.items() if ops == ("is",))
# Fields with few distinct values make poor anchors: a rule is filed under them only when it has no better one.
_BROAD_FIELDS = _FLAG_FIELDS | {"channel", "tier", "language", "country", "pbx_queue", "mailbox"}


class _CandidateIndex:
    """Which rules may match a contact, found by lookups instead of trying all of them.

    Each rule is filed under an anchor: the values of one condition that must hold for the rule
    to match (a condition of an ``all`` group, or every condition of an ``any`` group). A contact's
    candidates are the rules filed under the values it has, plus the rules without an anchor;
    they are then checked in order as before, so the index only saves work, never changes a result.
    """

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, Any], list[int]] = defaultdict(list)
        self.always: list[int] = []
        self.member_fields: set[str] = set()
        self.flag_fields: set[str] = set()
        self.prefix_lengths: set[int] = set()
        self.keywords = False

    @staticmethod
    def _anchor(cond: Condition, keyword_key: int | None) -> list[tuple[str, Any]] | None:
        if keyword_key is not None:
            return [("kw", keyword_key)]
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

    def add(self, position: int, rule: Rule, keyword_keys: dict[int, int]) -> None:
        best: list[tuple[str, Any]] | None = None
        for group in rule.groups:
            anchors = [self._anchor(c, keyword_keys.get(id(c))) for c in group.conditions]
            if group.mode == "all":
                options = [a for a in anchors if a is not None]
            else:
                options = [[k for a in anchors for k in a]] if all(a is not None for a in anchors) else []  # type: ignore[union-attr]
            for option in options:
                if best is None or self._cost(option) < self._cost(best):
                    best = option
        if best is None:
            self.always.append(position)
            return
        for key in dict.fromkeys(best):
            self.by_key[key].append(position)
            field = key[0]
            if field == "kw":
                self.keywords = True
            elif field == "phone_prefix":
                self.prefix_lengths.add(len(key[1]))
            elif field in _FLAG_FIELDS:
                self.flag_fields.add(field)
            else:
                self.member_fields.add(field)

    def candidates(self, facts: Facts, keywords: _Keywords) -> list[int]:
        found = set(self.always)
        by_key = self.by_key
        for field in self.member_fields:
            got = _READERS[field](facts)
            values = got if isinstance(got, list) else ([got] if got else [])
            for value in values:
                found.update(by_key.get((field, str(value).casefold()), ()))
        for field in self.flag_fields:
            found.update(by_key.get((field, _READERS[field](facts)), ()))
        if self.prefix_lengths:
            address = facts.contact.address or ""
            for length in self.prefix_lengths:
                found.update(by_key.get(("phone_prefix", address[:length]), ()))
        if self.keywords:
            for key in keywords.hits(facts):
                found.update(by_key.get(("kw", key), ()))
        return sorted(found)


def _priority(name: str) -> int:
    return Priority[name.upper()].value


def _apply(actions: Actions, decision: Decision) -> None:
    if actions.queue is not None:
        decision.queue = actions.queue
    if actions.priority is not None:
        decision.priority = _priority(actions.priority)
    if actions.min_priority is not None:
        decision.priority = max(decision.priority, _priority(actions.min_priority))
    if actions.category is not None:
        decision.category = actions.category
    if actions.tags is not None:
        decision.tags = sorted(set(decision.tags) | set(actions.tags))
    for name in ("skill", "assignee_id", "team", "strategy", "sla_policy", "acknowledgement", "call"):
        value = getattr(actions, name)
        if value is not None:
            setattr(decision, name, value)


class RuleEngine:
    """Immutable once built: saving rules builds a new engine, swapped in whole."""

    def __init__(self, rule_set: RuleSet, version: int, settings: RoutingSettings) -> None:
        self.rule_set = rule_set
        self.version = version
        self.settings = settings
        self._keywords = _Keywords()
        self._index = _CandidateIndex()
        self.rules: list[CompiledRule] = []
        for rule in rule_set.rules:
            if not rule.enabled:
                continue
            keyword_keys: dict[int, int] = {}  # id(condition) → its key in the keyword automaton
            groups = []
            for g in rule.groups:
                compiled = []
                for c in g.conditions:
                    before = len(self._keywords.entries)
                    compiled.append((_compile_condition(c, self._keywords), c.field in HISTORY_FIELDS))
                    if len(self._keywords.entries) > before:
                        keyword_keys[id(c)] = before
                groups.append((g.mode, compiled))
            self._index.add(len(self.rules), rule, keyword_keys)
            self.rules.append(CompiledRule(rule, groups))
        self._keywords.build()

    def base(self, contact: Contact) -> Decision:
        """The decision before any rule: the default queue for the channel (or the PBX/API queue)."""
        s = self.settings
        return Decision(
            queue=contact.queue_hint or s.queues.get(contact.channel) or contact.channel,
            priority=s.default_priority,
            category=contact.category or Category.OTHER.value,
            rule_version=self.version,
        )

    async def decide(self, session: AsyncSession, contact: Contact, now: datetime) -> Decision:
        facts = Facts(contact, as_utc(now))
        if contact.customer_id is not None:
            customer = await session.get(Customer, contact.customer_id)  # usually in the identity map
            if customer is not None:
                facts.tags = frozenset(str(t) for t in customer.tags or ())
                facts.language = customer.language or ""
        decision = self.base(contact)
        join: JoinOpenTicket | None = None
        rules = self.rules
        for position in self._index.candidates(facts, self._keywords):
            compiled = rules[position]
            verdict = compiled.check(facts)
            if verdict is _NEED_HISTORY:
                facts.history = await self._history(session, contact, facts.now)
                verdict = compiled.check(facts)
            if not isinstance(verdict, list):
                continue
            _apply(compiled.rule.actions, decision)
            decision.matched_rule = compiled.rule.name
            decision.rules.append(compiled.rule.name)
            why = " and ".join(verdict) or "every contact"
            decision.reasons.append(f"rule '{compiled.rule.name}' v{self.version}: {why}")
            join = compiled.rule.actions.join_open_ticket or join
            if compiled.rule.stop:
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
