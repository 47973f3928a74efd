"""A condition compiled three ways: why it holds (its predicate), whether it holds (the cheap
test asked of every candidate), and its reason once it holds (often fixed text)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from routing.facts import READERS, UNLESS, Facts, Predicate, Test, age_hours, keys_of, text_of
from routing.rule_keywords import RuleKeywords
from routing.rules import HISTORY_FIELDS, Condition

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime


def compile_condition(cond: Condition, keywords: RuleKeywords, calendars: Mapping[str, WorkingTime]) -> Predicate:
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
            hours = age_hours(f, o)
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
    read = text_of(field)
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


def compile_test(cond: Condition, keyword_key: int | None, keywords: RuleKeywords, predicate: Predicate) -> Test:
    """The yes/no of a condition without its reason: what candidates are checked with.

    Only the conditions of every contact's path get their own; any other (tickets, calendars,
    fields added later) asks its predicate, which says the same by answering at all.
    """
    field, op, value = cond.field, cond.op, cond.value
    if keyword_key is not None:
        return keywords.test(keyword_key)
    if field in HISTORY_FIELDS or field not in READERS:
        return lambda f: predicate(f) is not None
    if op == "is":
        if field in UNLESS:  # a flag's reader is its test (one call per candidate, not three)
            return READERS[field] if value else UNLESS[field]
        read = READERS[field]
        return lambda f: bool(read(f) == value)
    if op == "starts_with" and isinstance(value, list):
        prefixes = tuple(value)
        read = READERS[field]
        return lambda f: (read(f) or "").startswith(prefixes)
    if op in ("in", "not_in") and isinstance(value, list):
        wanted = frozenset(v.casefold() for v in value)
        negate = op == "not_in"
        # The two fields nearly every rule set asks of every candidate, read straight from the
        # contact. No value is empty, so a missing one ("" here, None for ``keys_of``) is in no list.
        if field == "channel":
            if negate:
                return lambda f: f.contact.channel.casefold() not in wanted
            return lambda f: f.contact.channel.casefold() in wanted
        if field == "tier":
            if negate:
                return lambda f: (f.contact.customer_tier or "").casefold() not in wanted
            return lambda f: (f.contact.customer_tier or "").casefold() in wanted
        keys = keys_of(field)

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


def compile_explain(cond: Condition, keyword_key: int | None, keywords: RuleKeywords, predicate: Predicate) -> Explain:
    """What ``predicate`` says of a condition that holds, without asking again whether it does.

    Most reasons are fixed text ("tier = vip", "callback = no"), so a rule of only such
    conditions has its whole reason written once, when the rules are compiled.
    """
    field, op, value = cond.field, cond.op, cond.value
    if keyword_key is not None:
        where = {"keywords": "", "subject_keywords": " in the subject", "body_keywords": " in the body"}[field]
        return keywords.why(keyword_key, where)
    if field in HISTORY_FIELDS or field not in READERS:
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
        keys = keys_of(field)

        def member(f: Facts) -> str:
            got = keys(f)
            hit = got if isinstance(got, str) else next((v for v in got or () if v in wanted), None)
            return f"{field} = {hit}"

        return member
    return lambda f: predicate(f) or ""
