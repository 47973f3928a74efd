"""The rules engine: a validated rule set compiled once, then a decision per contact.

Conditions are compiled to small functions over ``Facts`` (what the contact carries, its
customer, and — read only when a rule that may still match needs it — the customer's
tickets). Keyword conditions go through the template matcher's automaton over the same
folded text, so ``退款``, ``退款`` in full width and ``REFUND`` match as they do for templates.
Each decision says which rules matched, the version, and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from core.records import TICKET_NUMBER_OFFSET, Category, Customer, Priority
from routing import history
from routing.candidates import CandidateIndex
from routing.conditions import Explain, compile_condition, compile_explain, compile_test
from routing.contact import Contact, Decision
from routing.facts import Facts, Predicate, Test, age_hours
from routing.history import CustomerTickets
from routing.rule_keywords import RuleKeywords
from routing.rules import (
    HISTORY_FIELDS,
    PUSH_STRATEGIES,
    Actions,
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
    write: Callable[[Facts], str] | None = None  # ... else its reason, written from the contact (``why``)
    holds: Test | None = None  # ... and ``rest`` as one test (None: nothing left to ask)

    staged: bool = False  # one ``all`` group with ticket conditions
    before: tuple[Test, ...] = ()  # ... its other tests, asked before the tickets are read (less the anchor)
    after: tuple[Test, ...] = ()  # ... its ticket tests, asked once they are
    ordered: tuple[Test, ...] = ()  # ... all of them in order (less the anchor), when the tickets are read already

    def __post_init__(self) -> None:
        if len(self.groups) != 1 or self.groups[0][0] != "all":
            return
        reads = [h for _p, h in self.groups[0][1]]
        tests = self.tests[0]
        if not any(reads):
            self.simple = True
            self.every = tuple(tests)
            self.rest = tuple(t for n, t in enumerate(tests) if n != self.anchor)
            self.holds = _all_of(self.rest)
            if all(isinstance(e, str) for e in self.explains):
                self.reason = self.prefix + " and ".join(e for e in self.explains if isinstance(e, str))
            else:
                self.write = self._writer()
        else:
            self.staged = True
            self.before = tuple(t for n, t in enumerate(tests) if n != self.anchor and not reads[n])
            self.after = tuple(t for n, t in enumerate(tests) if reads[n])
            self.ordered = tuple(t for n, t in enumerate(tests) if n != self.anchor)

    def _writer(self) -> Callable[[Facts], str]:
        """``why`` with the fixed text around its one part read from the contact joined once, here."""
        explains = self.explains
        read = [n for n, e in enumerate(explains) if not isinstance(e, str)]
        if len(read) != 1:
            return self.why
        at = read[0]
        part = explains[at]
        assert not isinstance(part, str)
        fixed = [e if isinstance(e, str) else "" for e in explains]
        head = self.prefix + "".join(e + " and " for e in fixed[:at])
        tail = "".join(" and " + e for e in fixed[at + 1:])
        return lambda facts: head + part(facts) + tail

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
            return self.why(facts)
        return self.check_groups(facts, explain)

    def why(self, facts: Facts) -> str:
        """The reason of a simple rule that holds, from the reasons compiled with it."""
        if self.reason is not None:
            return self.reason
        return self.prefix + " and ".join([e if isinstance(e, str) else e(facts) for e in self.explains])

    def check_groups(self, facts: Facts, explain: bool) -> str | object | None:
        """``check`` of a rule of several groups, an ``any`` group or ticket conditions."""
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


def _all_of(tests: tuple[Test, ...]) -> Test | None:
    """The tests as one, asked in order (None for none): one call per candidate instead of a loop."""
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda facts: first(facts) and second(facts)
    return lambda facts: all(test(facts) for test in tests)


def _priority(name: str) -> int:
    return Priority[name.upper()].value


_PLAIN_ACTIONS = ("queue", "category", "skill", "assignee_id", "team", "strategy", "sla_policy", "acknowledgement", "call",
                  "complaint_category")


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledActions:
    """A rule's actions as the few assignments they make: nothing to look up per decision."""

    sets: dict[str, Any]  # field → value (plain fields of the decision: set in one ``update`` of its attributes)
    min_priority: int | None
    tags: frozenset[str] | None

    @classmethod
    def of(cls, actions: Actions) -> CompiledActions:
        sets = [(name, getattr(actions, name)) for name in _PLAIN_ACTIONS if getattr(actions, name) is not None]
        if actions.priority is not None:
            sets.append(("priority", _priority(actions.priority)))
        return cls(dict(sets), _priority(actions.min_priority) if actions.min_priority is not None else None,
                   frozenset(actions.tags) if actions.tags is not None else None)

    def apply(self, decision: Decision) -> None:
        if self.sets:
            vars(decision).update(self.sets)
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
                 keywords: RuleKeywords | None = None) -> None:
        """``indexed=False`` tries every rule with every condition: the reference the index is tested against.

        ``keywords``: an automaton shared with another engine, built by the caller (see ``pair``).
        """
        self.rule_set = rule_set
        self.calendars: Mapping[str, WorkingTime] = calendars or {}
        self.version = version
        self.settings = settings
        self.indexed = indexed
        self._keywords = keywords or RuleKeywords()
        self._index = CandidateIndex()
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
                    predicate = compile_condition(c, self._keywords, self.calendars)
                    keyword_key = before if len(self._keywords.entries) > before else None
                    if keyword_key is not None:
                        keyword_keys[id(c)] = keyword_key
                    compiled.append((predicate, c.field in HISTORY_FIELDS))
                    group_tests.append(compile_test(c, keyword_key, self._keywords, predicate))
                    if len(rule.groups) == 1:
                        explains.append(compile_explain(c, keyword_key, self._keywords, predicate))
                groups.append((g.mode, compiled))
                tests.append(group_tests)
            anchor = self._index.add(len(self.rules), rule, keyword_keys)
            self.rules.append(CompiledRule(rule, groups, CompiledActions.of(rule.actions), tests, anchor, explains,
                                           prefix=f"rule '{rule.name}' v{version}: "))
        self._all = (1 << len(self.rules)) - 1
        self._ticket_readers = [_scope(r.rule) for r in self.rules if _reads_tickets(r.rule)]
        self._queues_read_tickets = "last_agent" in settings.queue_strategies.values()
        self._reads_tickets: dict[tuple[str, bool], bool] = {}  # (channel, known customer) → ``reads_tickets``
        # what every decision reads of the settings, as plain dictionaries
        self._queues = dict(settings.queues)
        self._default_priority = settings.default_priority
        self._queue_strategies: dict[str, str] = dict(settings.queue_strategies)
        self._weights = dict(settings.weights)
        self._now: tuple[datetime | None, datetime | None] = (None, None)  # the last ``now`` decided at, and it in UTC
        if keywords is None:
            self._keywords.build()
            self._index.build(self._keywords)

    @classmethod
    def pair(cls, first: RuleEngine, second: RuleEngine) -> tuple[RuleEngine, RuleEngine]:
        """The two engines rebuilt over one keyword automaton: a contact both decide (replay) is scanned once."""
        shared = RuleKeywords()
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
        asked = (contact.channel, contact.customer_id is not None)
        reads = self._reads_tickets.get(asked)
        if reads is None:  # the answer depends on these two only: worked out once per channel (a handful)
            channel, known = asked[0].casefold(), asked[1]
            reads = any((allowed is None or channel in allowed) and channel not in excluded
                        and (wants_known is None or wants_known == known)
                        for allowed, excluded, wants_known in self._ticket_readers)
            if len(self._reads_tickets) < 1000:  # channels are few; never grown without bound by odd input
                self._reads_tickets[asked] = reads
        return reads

    def base(self, contact: Contact) -> Decision:
        """The decision before any rule: the default queue for the channel (or the PBX/API queue)."""
        return Decision.start(contact.queue_hint or self._queues.get(contact.channel) or contact.channel,
                              self._default_priority, contact.category or _OTHER, self.version)

    async def decide(self, session: AsyncSession, contact: Contact, now: datetime, explain: bool = True) -> Decision:
        """``explain=False`` (replay, which compares outcomes only): the same decision without the rules' reasons."""
        given, utc = self._now
        if now is not given:  # a batch decides its contacts at one time: converted once
            utc = as_utc(now)
            self._now = (now, utc)
        assert utc is not None
        facts = Facts(contact, utc)
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
            if compiled.simple and indexed:  # ``check`` written out for the common shape (every candidate of every contact)
                holds = compiled.holds
                if holds is not None and not holds(facts):
                    continue
                if explain:
                    if compiled.reason is not None:
                        decision.say(compiled.reason)
                    else:  # read from the contact: written when the reasons are read
                        decision.explain_later(compiled.write, facts)  # type: ignore[arg-type]  # set with ``reason`` None
            elif compiled.staged and indexed:  # the same, with the tickets read once its other tests hold
                held = True
                if facts.history is None:
                    for test in compiled.before:
                        if not test(facts):
                            held = False
                            break
                    if held:
                        facts.history = await self._history(session, contact, facts.now)
                        for test in compiled.after:
                            if not test(facts):
                                held = False
                                break
                else:
                    for test in compiled.ordered:
                        if not test(facts):
                            held = False
                            break
                if not held:
                    continue
                if explain:
                    decision.explain_later(compiled.why, facts)
            else:
                verdict = compiled.check(facts, indexed, explain)
                if verdict is _NEED_HISTORY:
                    facts.history = await self._history(session, contact, facts.now)
                    verdict = compiled.check(facts, indexed, explain)
                if verdict is None or verdict is _NEED_HISTORY:
                    continue
                if explain:
                    decision.say(verdict)  # type: ignore[arg-type]  # a match's verdict is its reason
            compiled.actions.apply(decision)
            rule = compiled.rule
            decision.matched_rule = rule.name
            decision.rules.append(rule.name)
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
            decision.say("a reply: threaded by the channel onto its ticket")
        elif decision.call == "callback" and contact.attributes.get("callback"):
            await self._callback(session, contact, decision, facts)
        elif join is not None or decision.call == "log":
            if facts.history is None:
                facts.history = await self._history(session, contact, facts.now)
            callback_only = join is not None and join.callback_only
            found = facts.history.open_callback if callback_only else facts.history.open_ticket
            window = join.within_hours if join is not None else None
            if found is not None and (window is None or age_hours(facts, found) <= window):
                decision.join_ticket_id = await history.ticket_id_of(session, found.ticket)
                decision.queue = found.queue
                what = "open callback ticket" if callback_only else "open ticket"
                decision.say(f"joins the {what} #{decision.join_ticket_id + TICKET_NUMBER_OFFSET}"
                                        + (f" (updated within {window} h)" if window else ""))
        queue_strategy = self._queue_strategies.get(decision.queue)
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
                decision.say("offered first to the customer's last agent")
            elif last is not None:
                decision.assignee_id = last
                decision.say("the customer's last agent")
        decision.weight = self._weights.get(contact.channel, 1)
        wanted = contact.attributes.get("priority")
        if isinstance(wanted, int) and decision.join_ticket_id is None:
            decision.priority = wanted
            decision.say("priority as sent")

    async def _callback(self, session: AsyncSession, contact: Contact, decision: Decision, facts: Facts) -> None:
        """One open callback per customer: their open callback, else this call's own ticket turned into one."""
        if facts.history is None:
            facts.history = await self._history(session, contact, facts.now)
        open_callback = facts.history.open_callback
        if open_callback is not None:
            decision.join_ticket_id = await history.ticket_id_of(session, open_callback.ticket)
            decision.queue = open_callback.queue
            decision.say(f"joins the open callback ticket #{decision.join_ticket_id + TICKET_NUMBER_OFFSET}")
            return
        call_ticket = contact.attributes.get("call_ticket_id")
        call_key = contact.attributes.get("call_key")
        if isinstance(call_ticket, int) and isinstance(call_key, str) and await history.opened_by(session, call_ticket, call_key):
            decision.join_ticket_id = call_ticket
            decision.subject = contact.subject
            decision.say("the call's own ticket becomes the callback ticket")
