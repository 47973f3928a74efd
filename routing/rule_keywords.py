"""The keyword conditions of a rule set: one automaton over all of them, scanned once per contact."""

from __future__ import annotations

from collections.abc import Callable

from core.keyword_matcher import KeywordMatcher, TemplateKeywords
from core.normalize import fold
from routing.facts import Facts, Test


class RuleKeywords:
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
