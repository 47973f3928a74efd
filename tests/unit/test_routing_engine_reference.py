"""The optimised rules engine decides as a plain reading of the rules does.

The engine files rules under anchors, shares one keyword automaton across every condition,
compiles conditions to tests and skips what a candidate's anchor proves. Here each rule is
read the slow, obvious way — every rule in order, every condition read straight from the
contact, each keyword condition with a matcher of its own over its own folded text — on
generated rule sets (several groups, ``any`` groups, ``not_in``, flags, ``stop``) and
generated contacts, and the two must agree on every decision.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.keyword_matcher import KeywordMatcher, TemplateKeywords
from core.normalize import fold
from core.records import Priority
from routing import history
from routing.contact import Contact
from routing.defaults import default_rules_data
from routing.engine import RuleEngine
from routing.history import CustomerTickets
from routing.rules import Condition, Rule, parse_rules
from routing.settings import RoutingSettings

WORDS = ["refund", "invoice", "password reset", "退款", "發票", "order-7", "late", "账户"]
FILLER = ["hello", "please", "the", "refunding", "prefund", "Refunds", "ＲＥＦＵＮＤ", "invoices", "退货", "，", "。", "\n", "order-77"]
DOMAINS = ["big.example", "Small.Example", "gmail.com"]
PREFIXES = ["+86", "+8613", "+1", "+44"]
TIERS = ["vip", "standard", "VIP", "new"]


def _condition(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(9)
    if kind == 0:
        return {"field": "channel", "op": rng.choice(["in", "not_in"]), "value": rng.sample(["email", "voice", "web"], rng.randint(1, 2))}
    if kind == 1:
        return {"field": "tier", "op": rng.choice(["in", "in", "not_in"]), "value": rng.sample(TIERS, rng.randint(1, 2))}
    if kind == 2:
        return {"field": "sender_domain", "op": rng.choice(["in", "not_in"]), "value": rng.sample(DOMAINS, rng.randint(1, 2))}
    if kind == 3:
        return {"field": "phone_prefix", "op": "starts_with", "value": rng.sample(PREFIXES, rng.randint(1, 2))}
    if kind == 4:
        return {"field": rng.choice(["known_customer", "callback", "automatic"]), "op": "is", "value": rng.random() < 0.5}
    if kind == 5:
        return {"field": "sender", "op": "in", "value": ["a@big.example", "+8613800138000"]}
    return {"field": rng.choice(["keywords", "subject_keywords", "body_keywords"]), "op": "contains_any",
            "value": rng.sample(WORDS, rng.randint(1, 3))}


def _rules(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rules = default_rules_data(RoutingSettings.model_validate({}))
    for n in range(count):
        groups = [{"mode": rng.choice(["all", "all", "any"]), "conditions": [_condition(rng) for _ in range(rng.randint(1, 3))]}
                  for _ in range(rng.choice([1, 1, 1, 2]))]
        actions: dict[str, Any] = {"queue": f"q{n}"}
        if rng.random() < 0.3:
            actions["min_priority"] = rng.choice(["normal", "high", "urgent"])
        if rng.random() < 0.2:
            actions["priority"] = rng.choice(["low", "high"])
        if rng.random() < 0.2:
            actions["tags"] = [f"t{rng.randrange(4)}"]
        if rng.random() < 0.1:
            actions["skill"] = "billing"
        rules.append({"name": f"r{n}", "groups": groups, "actions": actions, "stop": rng.random() < 0.08,
                      "enabled": rng.random() < 0.9})
    return rules


def _contact(rng: random.Random, noise: str) -> Contact:
    channel = rng.choice(["email", "email", "voice", "web"])
    words = [rng.choice(WORDS + FILLER) for _ in range(rng.randint(0, 8))]
    subject = " ".join(words[: rng.randint(0, len(words))])
    body = noise + " " + " ".join(rng.choice(WORDS + FILLER) for _ in range(rng.randint(0, 12)))
    if channel == "email":
        address: str | None = f"{rng.choice(['a', 'B'])}@{rng.choice(DOMAINS)}"
    else:
        address = rng.choice(PREFIXES) + str(rng.randint(800000000, 800138000))
    return Contact(channel, rng.choice([None, 5]), customer_tier=rng.choice([*TIERS, None]), subject=subject, body=body,
                   address=rng.choice([address, None]) if rng.random() < 0.1 else address,
                   attributes={k: True for k in ("callback", "automatic") if rng.random() < 0.2})


def _keyword_found(words: list[str], text: str) -> bool:
    return bool(KeywordMatcher([TemplateKeywords(1, "c", "", tuple((w, 1.0) for w in words))]).found(fold(text)))


def _holds(c: Condition, contact: Contact) -> bool:
    """One condition, read straight from the contact."""
    if c.field in ("keywords", "subject_keywords", "body_keywords"):
        assert isinstance(c.value, list)
        in_subject = c.field != "body_keywords" and _keyword_found(c.value, contact.subject)
        return in_subject or (c.field != "subject_keywords" and _keyword_found(c.value, contact.body))
    if c.op == "is":
        flag = {"known_customer": contact.customer_id is not None}.get(c.field, bool(contact.attributes.get(c.field)))
        return flag == c.value
    address = contact.address or ""
    if c.op == "starts_with":
        assert isinstance(c.value, list)
        return any(address.startswith(p) for p in c.value)
    got = {"channel": contact.channel, "tier": contact.customer_tier or "", "sender": address,
           "sender_domain": address.rsplit("@", 1)[1] if "@" in address else ""}[c.field].casefold()
    assert isinstance(c.value, list)
    inside = bool(got) and got in {v.casefold() for v in c.value}
    return inside if c.op == "in" else not inside


def _matches(rule: Rule, contact: Contact) -> bool | None:
    """Whether the rule matches; None when it asks about the customer's tickets (they have none here)."""
    for group in rule.groups:
        if any(c.field in ("open_ticket", "open_callback") for c in group.conditions):
            results = [False if c.field in ("open_ticket", "open_callback") and c.value is True else _holds(c, contact)
                       for c in group.conditions]
        else:
            results = [_holds(c, contact) for c in group.conditions]
        if not (all(results) if group.mode == "all" else any(results)):
            return False
    return True


def _reference(rules: list[Rule], contact: Contact, settings: RoutingSettings) -> dict[str, Any]:
    """Every enabled rule in order, later actions over earlier ones field by field, ``stop`` ends the run."""
    out: dict[str, Any] = {"queue": settings.queues.get(contact.channel) or contact.channel, "priority": settings.default_priority,
                           "skill": None, "tags": [], "rules": []}
    for rule in rules:
        if not rule.enabled or not _matches(rule, contact):
            continue
        a = rule.actions
        if a.queue is not None:
            out["queue"] = a.queue
        if a.skill is not None:
            out["skill"] = a.skill
        if a.priority is not None:
            out["priority"] = Priority[a.priority.upper()].value
        if a.min_priority is not None:
            out["priority"] = max(out["priority"], Priority[a.min_priority.upper()].value)
        if a.tags is not None:
            out["tags"] = sorted(set(a.tags) | set(out["tags"]))
        out["rules"].append(rule.name)
        if rule.stop:
            break
    out["matched_rule"] = out["rules"][-1] if out["rules"] else None
    return out


class _Session:
    """What deciding reads of a session when nobody has tickets: the read-ahead answers, all empty."""

    def __init__(self, contacts: list[Contact]) -> None:
        self.info: dict[str, Any] = {history._MEMO: {}, history._ADDRESS_MEMO: {(c.channel, c.address): CustomerTickets() for c in contacts}}
        self.identity_map: dict[Any, Any] = {}

    async def get(self, _entity: Any, _key: int) -> None:  # a customer id without a stored customer: no tags
        return None


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.text(max_size=20))
def test_the_optimised_engine_decides_as_the_rules_read_plainly(seed: int, noise: str) -> None:
    rng = random.Random(seed)
    routing = RoutingSettings.model_validate({})
    data = _rules(rng, 40)
    rule_set = parse_rules(data)
    engine = RuleEngine(rule_set, 3, routing)
    contacts = [_contact(rng, noise) for _ in range(50)]
    session = _Session(contacts)
    now = datetime.now(UTC)
    matched = 0
    for contact in contacts:
        if contact.customer_id is not None:  # a known customer's tags and tickets: none, read ahead as a batch would
            session.info[history._MEMO][contact.customer_id] = CustomerTickets()
        got = asyncio.run(engine.decide(session, contact, now))  # type: ignore[arg-type]
        want = _reference(rule_set.rules, contact, routing)
        assert {"queue": got.queue, "priority": got.priority, "skill": got.skill, "tags": got.tags, "rules": got.rules,
                "matched_rule": got.matched_rule} == want, (contact, want)
        quiet = asyncio.run(engine.decide(session, contact, now, explain=False))  # type: ignore[arg-type]  # as replay decides
        assert (quiet.queue, quiet.priority, quiet.rules) == (got.queue, got.priority, got.rules)
        matched += any(name.startswith("r") for name in got.rules)
    assert matched  # the generated rules did match some contacts
