"""One Aho–Corasick pass over a mail finds the keywords of every template at once.

The automaton holds every spelling of every keyword and exclusion — word forms
(refund, refunds, refunded), traditional and simplified Chinese — over text as ``fold``
leaves it. Each spelling points at its keyword's canonical form, and each canonical
form at the templates that use it, with their weights. Latin spellings only count on
word boundaries ("refund" is not found inside "prefunding"), Chinese ones anywhere.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import ahocorasick_rs

from core.normalize import chinese_variants, fold, is_word_char, normalize, word_forms

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
    category: str = ""  # ops' grouping of templates (e.g. "billing"); routing rules may select on it


@dataclasses.dataclass(frozen=True, slots=True)
class Suggestion:
    template_id: int
    name: str
    score: float
    matched: tuple[str, ...]  # the keywords/phrases found, so the agent sees why
    category: str = ""  # the template's category: the top suggestion's is a routing condition


def _language_of(tag: str | None) -> str:
    return (tag or "").split("-")[0].split("_")[0].lower()


_SCALE = 1000  # weights are summed as integers in thousandths


# ASCII bytes that continue a word: a Latin keyword next to one is not a whole word.
_ASCII_WORD = tuple(chr(b).isalnum() for b in range(128))


def _continues_word(data: bytes, at: int, backwards: bool) -> bool:
    """Whether the character whose UTF-8 byte is at ``at`` is a word character.

    ASCII from a table; a non-ASCII character is decoded first (stepping back over
    continuation bytes when it ends at ``at``)."""
    byte = data[at]
    if byte < 0x80:
        return _ASCII_WORD[byte]
    if backwards:  # step back over continuation bytes to the character's first byte
        first = at
        while first > 0 and 0x80 <= data[first] < 0xC0:
            first -= 1
        raw = data[first : at + 1]
    else:
        raw = data[at : at + 4]
    char = raw.decode("utf-8", "ignore")[:1]
    return bool(char) and is_word_char(char)


# Up to this many pattern bytes the automaton is built as a DFA: scanning is about 40 % faster than
# the default NFA's (every routed contact is scanned), for memory that stays small at this size
# (about 12 MB at 250,000 bytes, against well under 1 MB); past it the default bounds memory.
DFA_MAX_BYTES = 300_000


def _implementation(patterns: list[bytes]) -> ahocorasick_rs.Implementation | None:
    return ahocorasick_rs.Implementation.DFA if sum(map(len, patterns)) <= DFA_MAX_BYTES else None


class KeywordMatcher:
    """Immutable once built; build a new one when templates change.

    The automaton runs over UTF-8 bytes.

    Scores are kept as ``thousandths of weight - slot / (templates + 1)``: the fraction
    is the tie-break (more used, then by name, comes first), so ranking is a plain sort
    of the templates a keyword touched by their score.
    """

    def __init__(self, templates: Iterable[TemplateKeywords]) -> None:
        # Slots in tie-break order: more used first, then by name.
        self._templates = sorted(templates, key=lambda t: (-t.usage_count, t.name, t.template_id))
        count = len(self._templates)
        self._tie = [-slot / (count + 1) for slot in range(count)]
        by_language: dict[str, set[int]] = {}
        for slot, template in enumerate(self._templates):
            by_language.setdefault(_language_of(template.language), set()).add(slot)
        any_language = by_language.get("", set())
        # A mail in a language may get that language's templates and those without one.
        self._for_language = {language: frozenset(slots | any_language) for language, slots in by_language.items()}
        self._any_language = frozenset(any_language)
        key_of: dict[tuple[str, bool], int] = {}  # (canonical phrase, is exclusion) → key
        weights: list[dict[int, int]] = []  # key → {slot: weight}; empty for exclusions
        vetoes: list[set[int]] = []  # key → slots it vetoes
        phrases: list[dict[int, str]] = []  # key → {slot: phrase as written}
        keys_of: list[set[int]] = [set() for _ in range(count)]  # slot → its keywords' keys
        spellings: dict[str, set[int]] = {}
        for slot, template in enumerate(self._templates):
            entries = [(p, w) for p, w in template.keywords if w > 0]
            entries += [(p, 0.0) for p in template.exclusions]
            for phrase, weight in entries:
                canonical = normalize(phrase)
                if not canonical:
                    continue
                key = key_of.setdefault((canonical, weight == 0), len(key_of))
                if key == len(weights):
                    weights.append({})
                    vetoes.append(set())
                    phrases.append({})
                    for form in word_forms(phrase) | {fold(phrase)}:
                        for spelling in chinese_variants(form):
                            spellings.setdefault(spelling, set()).add(key)
                if weight == 0:
                    vetoes[key].add(slot)
                    continue
                weights[key][slot] = weights[key].get(slot, 0) + max(1, round(weight * _SCALE))
                phrases[key].setdefault(slot, phrase)
                keys_of[slot].add(key)
        self._weights = [tuple(w.items()) for w in weights]
        self._subject_weights = [tuple((s, w * SUBJECT_FACTOR) for s, w in pairs) for pairs in self._weights]
        self._vetoes = [frozenset(v) for v in vetoes]
        self._exclusion_keys = frozenset(key for key, v in enumerate(vetoes) if v)
        self._phrases = phrases
        self._keys_of = [frozenset(keys) for keys in keys_of]
        # The automaton runs over UTF-8 bytes: ahocorasick-rs scans bytes several times faster
        # than text, and UTF-8 is self-synchronising, so a keyword's bytes only ever match on
        # character boundaries. Each spelling (by its index in the automaton) says whether each
        # end must sit on a word boundary (a Latin end must; a CJK end need not), and the
        # keyword keys it spells.
        self._spelled: list[tuple[bool, bool, tuple[int, ...]]] = []
        self._automaton: ahocorasick_rs.BytesAhoCorasick | None = None
        if spellings:
            patterns = []
            for spelling, keys in spellings.items():
                if not spelling:  # nothing to find (the automaton refuses an empty pattern)
                    continue
                patterns.append(spelling.encode("utf-8"))
                self._spelled.append((is_word_char(spelling[0]), is_word_char(spelling[-1]), tuple(keys)))
            self._automaton = ahocorasick_rs.BytesAhoCorasick(patterns, implementation=_implementation(patterns)) if patterns else None
        self.forms = len(spellings)

    def __len__(self) -> int:
        return len(self._templates)

    def _hits(self, data: bytes) -> list[tuple[int, tuple[int, ...]]]:
        """Each whole-word hit in UTF-8 ``data``: where it ends (exclusive) and the keyword keys it spells."""
        assert self._automaton is not None
        spelled = self._spelled
        size = len(data)
        hits = []
        for index, start, end in self._automaton.find_matches_as_indexes(data, overlapping=True):
            bound_start, bound_end, keys = spelled[index]
            if bound_start and start > 0 and _continues_word(data, start - 1, backwards=True):
                continue
            if bound_end and end < size and _continues_word(data, end, backwards=False):
                continue
            hits.append((end, keys))
        return hits

    def found(self, text: str) -> set[int]:
        """Keys of the keywords found in folded ``text``."""
        keys: set[int] = set()
        if self._automaton is None or not text:
            return keys
        for _end, spelled_keys in self._hits(text.encode("utf-8")):
            keys.update(spelled_keys)
        return keys

    def found_in_parts(self, text: str) -> tuple[set[int], set[int]]:
        """``found`` of two folded texts (a subject and a body) joined by a NUL, in one pass of the automaton.

        One ``fold`` and one pass instead of two. No keyword holds a NUL and it is not a word
        character, so no spelling spans the two parts and each part's edges stay word boundaries.
        """
        in_first: set[int] = set()
        in_second: set[int] = set()
        if self._automaton is None or not text:
            return in_first, in_second
        data = text.encode("utf-8")
        size = len(data)
        split = data.find(b"\x00")
        if split < 0:
            split = size
        spelled, word = self._spelled, _ASCII_WORD
        # ``_hits`` written out (this runs for every routed contact): an ASCII neighbour is read
        # from the table, anything else decoded by ``_continues_word``.
        for index, start, end in self._automaton.find_matches_as_indexes(data, overlapping=True):
            bound_start, bound_end, keys = spelled[index]
            if bound_start and start > 0:
                byte = data[start - 1]
                if word[byte] if byte < 0x80 else _continues_word(data, start - 1, backwards=True):
                    continue
            if bound_end and end < size:
                byte = data[end]
                if word[byte] if byte < 0x80 else _continues_word(data, end, backwards=False):
                    continue
            (in_first if end <= split else in_second).update(keys)
        return in_first, in_second

    def owners(self) -> list[tuple[tuple[int, str], ...]]:
        """Per keyword key (as ``found`` returns them), each template it belongs to and the phrase as written.

        For callers that map found keys to their own conditions on every call (routing): they
        read this table once instead of building a dictionary per mail with ``templates_found``.
        """
        return [tuple((self._templates[slot].template_id, phrase) for slot, phrase in sorted(p.items())) for p in self._phrases]

    def templates_found(self, keys: set[int]) -> dict[int, tuple[str, ...]]:
        """The templates (by id) that found keyword ``keys`` belong to, each with its phrases as written.

        For callers that need which keyword sets fired, not a ranking (routing conditions).
        """
        found: dict[int, list[str]] = {}
        for key in keys:
            for slot, phrase in self._phrases[key].items():
                found.setdefault(self._templates[slot].template_id, []).append(phrase)
        return {template: tuple(sorted(set(phrases))) for template, phrases in found.items()}

    def match(
        self, subject: str, body: str, language: str | None = None, limit: int = 3
    ) -> list[Suggestion]:
        """The best ``limit`` templates for a mail, each with the keywords that matched.

        Score: the sum of the weights of the distinct keywords found, doubled for those in
        the subject; a template whose exclusion is found is out.
        """
        in_subject = self.found(fold(subject))
        only_in_body = self.found(fold(body)) - in_subject
        found = in_subject | only_in_body
        tie = self._tie
        scores: dict[int, float] = {}  # the templates a found keyword touched
        for keys, weights in ((in_subject, self._subject_weights), (only_in_body, self._weights)):
            for key in keys:
                for slot, weight in weights[key]:
                    if slot in scores:
                        scores[slot] += weight
                    else:
                        scores[slot] = tie[slot] + weight
        for key in found & self._exclusion_keys:
            for slot in self._vetoes[key]:
                scores.pop(slot, None)
        candidates: Iterable[int] = scores.keys()
        wanted = _language_of(language)
        if wanted:
            candidates = scores.keys() & self._for_language.get(wanted, self._any_language)
        best = []
        for slot in sorted(candidates, key=scores.__getitem__, reverse=True)[:limit]:
            phrases = sorted(self._phrases[key][slot] for key in found & self._keys_of[slot])
            template = self._templates[slot]
            score = math.ceil(scores[slot]) / _SCALE
            best.append(Suggestion(template.template_id, template.name, score, tuple(dict.fromkeys(phrases)),
                                   template.category))
        return best
