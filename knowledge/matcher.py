"""One Aho–Corasick pass over a mail finds the keywords of every template at once.

The automaton holds every normalised form of every keyword and exclusion; each form
points at the (template, keyword) pairs it stands for. Latin forms only count on word
boundaries ("refund" is not found inside "prefunding"), Chinese ones anywhere.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable

import ahocorasick

from knowledge.normalize import is_word_char, normalize, word_forms

SUBJECT_FACTOR = 2.0  # a keyword in the subject says more about the mail than one in the body


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateKeywords:
    """What the matcher needs of one template."""

    template_id: int
    name: str
    language: str
    keywords: tuple[tuple[str, float], ...]  # (phrase as ops wrote it, weight)
    exclusions: tuple[str, ...] = ()
    usage_count: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Suggestion:
    template_id: int
    name: str
    score: float
    matched: tuple[str, ...]  # the keywords/phrases found, so the agent sees why


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    slot: int  # index of the template in the matcher
    phrase: str  # as ops wrote it, shown to the agent
    weight: float  # negative: an exclusion


def _language_of(tag: str | None) -> str:
    return (tag or "").split("-")[0].split("_")[0].lower()


class KeywordMatcher:
    """Immutable once built; build a new one when templates change."""

    def __init__(self, templates: Iterable[TemplateKeywords]) -> None:
        self._templates = list(templates)
        self._automaton: ahocorasick.Automaton | None = None
        forms: dict[str, list[_Target]] = {}
        for slot, template in enumerate(self._templates):
            entries = [(p, w) for p, w in template.keywords if w > 0]
            entries += [(p, -1.0) for p in template.exclusions]
            for phrase, weight in entries:
                for form in word_forms(phrase):
                    forms.setdefault(form, []).append(_Target(slot, phrase, weight))
        if forms:
            automaton = ahocorasick.Automaton()
            for form, targets in forms.items():
                # A Latin end of a form must sit on a word boundary; a CJK end need not.
                value = (len(form), is_word_char(form[0]), is_word_char(form[-1]), tuple(targets))
                automaton.add_word(form, value)
            automaton.make_automaton()
            self._automaton = automaton
        self.forms = len(forms)

    def __len__(self) -> int:
        return len(self._templates)

    def _found(self, text: str) -> dict[tuple[int, str], float]:
        """(slot, phrase) → weight for every keyword found in normalised ``text``."""
        found: dict[tuple[int, str], float] = {}
        if self._automaton is None or not text:
            return found
        end_of_text = len(text) - 1
        for end, (length, bound_start, bound_end, targets) in self._automaton.iter(text):
            start = end - length + 1
            if bound_start and start > 0 and is_word_char(text[start - 1]):
                continue
            if bound_end and end < end_of_text and is_word_char(text[end + 1]):
                continue
            for target in targets:
                found[(target.slot, target.phrase)] = target.weight
        return found

    def match(
        self, subject: str, body: str, language: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """The best ``limit`` templates for a mail, each with the keywords that matched."""
        in_subject = self._found(normalize(subject))
        in_body = self._found(normalize(body))
        scores: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        vetoed: set[int] = set()
        for found, factor in ((in_subject, SUBJECT_FACTOR), (in_body, 1.0)):
            for (slot, phrase), weight in found.items():
                if weight < 0:
                    vetoed.add(slot)
                    continue
                if factor == 1.0 and (slot, phrase) in in_subject:
                    continue  # counted once, at the subject's weight
                scores[slot] = scores.get(slot, 0.0) + weight * factor
                matched.setdefault(slot, []).append(phrase)
        wanted = _language_of(language)
        candidates = [
            slot
            for slot in scores
            if slot not in vetoed
            and (not wanted or not self._templates[slot].language
                 or _language_of(self._templates[slot].language) == wanted)
        ]
        best = heapq.nsmallest(
            limit,
            candidates,
            key=lambda s: (-scores[s], -self._templates[s].usage_count, self._templates[s].name),
        )
        return [
            Suggestion(
                self._templates[s].template_id,
                self._templates[s].name,
                round(scores[s], 3),
                tuple(matched[s]),
            )
            for s in best
        ]
