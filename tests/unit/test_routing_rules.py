"""Routing rules: bad rules are refused with the field named; good ones decide as ops expect."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.calendar import BusinessCalendar
from core.errors import InvalidInput
from core.normalize import fold
from routing.bench import generated_contact, generated_rules
from routing.contact import Contact, Decision
from routing.defaults import default_rules
from routing.engine import RuleEngine
from routing.rules import MAX_KEYWORDS, parse_rules
from routing.settings import RoutingSettings


def _rule(name: str, conditions: list[tuple[str, str, Any]], actions: dict[str, Any], mode: str = "all", **extra: Any) -> dict[str, Any]:
    return {"name": name, "groups": [{"mode": mode, "conditions": [{"field": f, "op": o, "value": v} for f, o, v in conditions]}],
            "actions": actions, **extra}


def _fields(data: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_rules(data)
    return [e["field"] for e in caught.value.details["errors"]]


def test_bad_rules_are_refused_with_the_field_named() -> None:
    assert _fields([_rule("a", [("colour", "in", ["red"])], {"queue": "x"})]) == ["rules.0.groups.0.conditions.0"]
    assert _fields([{"name": "a", "groups": [{"mode": "all", "conditions": []}], "actions": {"queue": "x"}}]) == ["rules.0.groups.0.conditions"]
    too_many = [f"word{n}" for n in range(MAX_KEYWORDS + 1)]
    assert _fields([_rule("a", [("keywords", "contains_any", too_many)], {"queue": "x"})]) == ["rules.0.groups.0.conditions.0"]
    assert _fields([_rule("a", [("tier", "matches", ["v.*"])], {"queue": "x"})]) == ["rules.0.groups.0.conditions.0"]
    assert _fields([_rule("a", [("tier", "in", ["vip"])], {"queue": "x", "colour": "red"})]) == ["rules.0.actions.colour"]
    assert _fields([_rule("a", [("tier", "in", ["vip"])], {})]) == ["rules.0.actions"]
    assert _fields([_rule("a", [("tier", "in", ["vip"])], {"category": "nonsense"})]) == ["rules.0.actions.category"]
    assert _fields([_rule("Same", [("tier", "in", ["vip"])], {"queue": "x"}), _rule("same", [("tier", "in", ["new"])], {"queue": "y"})]) == ["rules"]


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["rules", "name", "groups", "mode", "conditions", "field", "op", "value", "actions", "queue",
                         "priority", "stop", "enabled", "join_open_ticket", "within_hours"]), inner, max_size=4),
                    max_leaves=12))
def test_any_input_is_either_valid_rules_or_a_clear_refusal(data: Any) -> None:
    try:
        parse_rules(data)
    except InvalidInput as exc:
        assert exc.details["errors"] and all("field" in e for e in exc.details["errors"])


def _decide(rules: list[dict[str, Any]], contact: Contact) -> Decision:
    engine = RuleEngine(parse_rules(rules), 7, RoutingSettings())
    return asyncio.run(engine.decide(None, contact, datetime.now(UTC)))  # type: ignore[arg-type]  # needs no database


VIP_REFUNDS = _rule("VIP refunds", [("tier", "in", ["vip"]), ("keywords", "contains_any", ["退款", "refund"])],
                    {"queue": "billing", "priority": "urgent", "strategy": "round_robin", "skill": "billing"})


@pytest.mark.parametrize("subject", ["我要退款", "我要退款", "我要退款", "ＲＥＦＵＮＤ please", "Refunds?", "refunded twice"])
def test_keywords_go_through_the_template_matchers_folding(subject: str) -> None:
    decision = _decide([VIP_REFUNDS], Contact("email", None, customer_tier="vip", subject=subject))
    assert (decision.queue, decision.priority, decision.skill, decision.matched_rule) == ("billing", 3, "billing", "VIP refunds")
    assert decision.reasons[0].startswith("rule 'VIP refunds' v7: tier = vip and keyword ")


@pytest.mark.parametrize("subject", ["prefunding question", "退货", "hello"])
def test_keywords_do_not_match_inside_other_words_or_other_terms(subject: str) -> None:
    decision = _decide([VIP_REFUNDS], Contact("email", None, customer_tier="vip", subject=subject))
    assert decision.queue == "email" and decision.matched_rule is None


def test_any_groups_later_rules_override_and_stop_ends_the_run() -> None:
    rules = [
        _rule("Domains", [("sender_domain", "in", ["big.example"]), ("phone_prefix", "starts_with", ["+86"])], {"queue": "key-accounts"}, mode="any"),
        _rule("China", [("country", "in", ["CN"])], {"queue": "china", "min_priority": "high"}, stop=True),
        _rule("Never", [("channel", "in", ["voice"])], {"queue": "never"}),
    ]
    assert _decide(rules, Contact("email", None, address="Boss@Big.Example")).queue == "key-accounts"
    china = _decide(rules, Contact("voice", None, address="+8613800138000"))
    assert (china.queue, china.priority, china.rules) == ("china", 2, ["Domains", "China"])
    assert _decide(rules, Contact("voice", None, address="+14155550123")).queue == "never"


def test_a_disabled_rule_does_nothing() -> None:
    rule = _rule("Off", [("channel", "in", ["email"])], {"queue": "elsewhere"}, enabled=False)
    assert _decide([rule], Contact("email", None)).queue == "email"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 100_000))
def test_the_candidate_index_never_changes_a_decision(seed: int) -> None:
    """Filing rules under anchors only saves work: every decision equals trying every rule in order."""
    rng = random.Random(seed)
    rule_set = parse_rules(generated_rules(rng, 60))
    indexed = RuleEngine(rule_set, 1, RoutingSettings.model_validate({}))
    every = RuleEngine(rule_set, 1, RoutingSettings.model_validate({}), indexed=False)
    # as replay pairs them: one automaton for two sets, a contact scanned once for both
    paired, other = RuleEngine.pair(indexed, RuleEngine(parse_rules(generated_rules(random.Random(seed + 1), 30)), 2,
                                                        RoutingSettings.model_validate({})))
    matched = 0
    for _ in range(100):  # enough that some generated rule matches whatever the seed
        contact = generated_contact(rng)
        contact.channel = "email"  # no ticket reads: no database here
        now = datetime.now(UTC)
        a = asyncio.run(indexed.decide(None, contact, now))  # type: ignore[arg-type]
        b = asyncio.run(every.decide(None, contact, now))  # type: ignore[arg-type]
        assert a == b
        quiet = asyncio.run(indexed.decide(None, contact, now, explain=False))  # type: ignore[arg-type]  # as replay decides
        assert dataclasses.replace(quiet, reasons=a.reasons) == a
        fresh = dataclasses.replace(contact, folded=None)
        asyncio.run(other.decide(None, fresh, now))  # type: ignore[arg-type]  # scans it for the pair
        assert asyncio.run(paired.decide(None, fresh, now)) == a  # type: ignore[arg-type]
        matched += any(name.startswith("rule ") for name in a.rules)
    assert matched  # generated rules did match some contacts


def test_a_rule_set_over_the_total_keyword_cap_is_refused() -> None:
    words = [f"w{n}" for n in range(MAX_KEYWORDS)]
    rules = [_rule(f"r{n}", [("keywords", "contains_any", words)], {"queue": "x"}) for n in range(20_000 // MAX_KEYWORDS + 1)]
    with pytest.raises(InvalidInput) as caught:
        parse_rules(rules)
    assert "at most 20,000 keywords in all" in caught.value.details["errors"][0]["message"]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 100_000), st.text(max_size=40), st.text(max_size=40))
def test_subject_and_body_in_one_pass_find_what_two_passes_find(seed: int, noise_a: str, noise_b: str) -> None:
    """Routing folds subject and body once and runs one automaton pass over both (NUL-joined)."""
    rng = random.Random(seed)
    engine = RuleEngine(parse_rules(generated_rules(rng, 60)), 1, RoutingSettings.model_validate({}))
    matcher = engine._keywords.matcher
    assert matcher is not None
    contact = generated_contact(rng)
    subject, body = contact.subject + noise_a.replace("\x00", ""), noise_b.replace("\x00", "") + contact.body
    assert matcher.found_in_parts(fold(subject + "\x00" + body)) == (matcher.found(fold(subject)), matcher.found(fold(body)))


def test_inside_or_outside_business_hours_of_a_named_calendar() -> None:
    office = BusinessCalendar("Shanghai office", "Asia/Shanghai", {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}, ())
    rules = parse_rules([_rule("After hours", [("business_hours", "closed_in", ["Shanghai office"])], {"queue": "night"}),
                         _rule("Office hours VIP", [("tier", "in", ["vip"]), ("business_hours", "open_in", ["Shanghai office"])],
                               {"queue": "vip-desk"})])
    engine = RuleEngine(rules, 3, RoutingSettings(), {"Shanghai office": office})
    monday_10_local = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    saturday = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    contact = Contact("email", None, customer_tier="vip", subject="hello")
    open_now = asyncio.run(engine.decide(None, contact, monday_10_local))  # type: ignore[arg-type]
    closed = asyncio.run(engine.decide(None, contact, saturday))  # type: ignore[arg-type]
    assert (open_now.queue, open_now.matched_rule) == ("vip-desk", "Office hours VIP")
    assert "inside the business hours of Shanghai office" in open_now.reasons[0]
    assert (closed.queue, closed.matched_rule) == ("night", "After hours")
    assert "outside the business hours of Shanghai office" in closed.reasons[0]
    # A calendar removed since the rules were saved: the rule fails (the policy sends the contact to the default queue).
    with pytest.raises(LookupError):
        asyncio.run(RuleEngine(rules, 3, RoutingSettings()).decide(None, contact, saturday))  # type: ignore[arg-type]


BILLING_TEMPLATES = [
    _rule("Refund template", [("template", "in", ["Refund on its way"])], {"queue": "refunds", "tags": ["Refund"]}),
    _rule("Billing templates", [("template_category", "in", ["Billing"])], {"priority": "high"}),
    _rule("Not shipping", [("template_category", "not_in", ["shipping"])], {"skill": "general"}),
]


def test_the_top_suggested_template_and_its_category_are_conditions() -> None:
    mail = Contact("email", None, subject="money back", attributes={"template": "refund on its way", "template_category": "billing"})
    decision = _decide(BILLING_TEMPLATES, mail)
    assert (decision.queue, decision.priority, decision.skill, decision.tags) == ("refunds", 2, "general", ["refund"])
    assert decision.rules == ["Refund template", "Billing templates", "Not shipping"]
    assert "rule 'Billing templates' v7: template_category = billing" in decision.reasons

    parcel = _decide(BILLING_TEMPLATES, Contact("email", None, attributes={"template": "Parcel delayed", "template_category": "shipping"}))
    assert (parcel.queue, parcel.priority, parcel.skill, parcel.rules) == ("email", 1, None, [])

    call = _decide(BILLING_TEMPLATES, Contact("voice", None))  # no suggestion: only "not in" holds
    assert call.rules == ["Not shipping"]


def test_template_conditions_take_list_operators_only() -> None:
    assert _fields([_rule("a", [("template", "is", True)], {"queue": "x"})]) == ["rules.0.groups.0.conditions.0"]
    assert _fields([_rule("a", [("template_category", "in", [])], {"queue": "x"})]) == ["rules.0.groups.0.conditions.0"]


def test_only_contacts_a_rule_may_ask_about_tickets_have_them_read_ahead() -> None:
    """Batches (replay, the bench) read ahead tickets only for contacts ``reads_tickets`` names."""
    settings = RoutingSettings.model_validate({})
    engine = RuleEngine(default_rules(settings), 0, settings)
    assert engine.reads_tickets(Contact("voice", None))  # a call joins the caller's recent ticket
    assert engine.reads_tickets(Contact("email", 5))  # a known customer's last agent
    assert not engine.reads_tickets(Contact("email", None))
    assert engine.reads_tickets(Contact("web", None))  # the API caller may ask to join (a flag read per contact: read ahead)
    waits = _rule("Old tickets", [("open_ticket", "older_than_hours", 48)], {"queue": "stale"})
    assert RuleEngine(parse_rules([waits]), 1, settings).reads_tickets(Contact("email", None))
    last = RoutingSettings.model_validate({"queue_strategies": {"email": "last_agent"}})
    assert RuleEngine(parse_rules([]), 1, last).reads_tickets(Contact("email", None))


@pytest.mark.parametrize("contact", [
    Contact("email", None, customer_tier="VIP", subject="Refund and 退款 please", body="refund", address="A@Big.Example",
            attributes={"to": ["Sales@Us.Example", "billing@us.example"]}),
    Contact("voice", None, customer_tier="new", address="+8613800138000", attributes={"callback": True}),
    Contact("email", None, subject="nothing here", address="x@small.example", attributes={"to": ["support@us.example"]}),
])
def test_reasons_written_when_the_rules_are_compiled_say_what_each_condition_says(contact: Contact) -> None:
    """Fixed reasons and reasons read after a test equal what every condition's own predicate writes."""
    rules = parse_rules([
        _rule("Tiers", [("tier", "in", ["vip", "new"]), ("channel", "not_in", ["web"])], {"queue": "a"}),
        _rule("Recipients", [("recipient", "in", ["billing@us.example", "sales@us.example"])], {"queue": "b"}),
        _rule("Prefixes", [("phone_prefix", "starts_with", ["+1", "+86"]), ("callback", "is", True)], {"queue": "c"}),
        _rule("Words", [("keywords", "contains_any", ["refund", "退款"]), ("body_keywords", "contains_any", ["refund"])],
              {"queue": "d"}),
        _rule("Domains", [("sender_domain", "in", ["big.example"])], {"queue": "e"}),
    ])
    now = datetime.now(UTC)
    fast = asyncio.run(RuleEngine(rules, 1, RoutingSettings()).decide(None, contact, now))  # type: ignore[arg-type]
    reference = asyncio.run(RuleEngine(rules, 1, RoutingSettings(), indexed=False).decide(None, contact, now))  # type: ignore[arg-type]
    assert fast == reference and (fast.rules or contact.subject == "nothing here")
