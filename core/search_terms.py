"""The words search stores and looks for, the same on SQLite and PostgreSQL.

Both databases index a space-separated list of terms made here in Python, so they find
exactly the same documents: text is ``normalize``-d the way the template matcher folds it
(full-width, case, accents, traditional Chinese), Latin words are stemmed crudely
(refund/refunds/refunded), and runs of Chinese characters — written without spaces — become
overlapping pairs of characters, so ``退款`` is found inside ``我要退款谢谢``. Phone numbers
are kept as their digits whatever the punctuation, with the national form beside the
international one, so ``138 0013 8000`` finds ``+8613800138000``.
"""

from __future__ import annotations

import dataclasses
import re

from core.normalize import is_cjk, normalize, stem
from core.phones import national_digits

MAX_TERMS = 20_000  # per document: a huge mail is indexed by its first words
# Read of a document's text at most: indexing runs in the writer's flush, on the event loop,
# so a multi-megabyte mail must not be folded whole there (its first words are what's indexed).
MAX_TEXT_CHARS = 200_000
MAX_QUERY_TERMS = 12
_CJK_CLASS = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A run of Chinese characters, or a run of other letters and digits.
_RUNS = re.compile(f"[{_CJK_CLASS}]+|[^\\W_{_CJK_CLASS}]+")
_PHONE_QUERY = re.compile(r"^\+?[\d\s().\-]{5,}$")
_DIGITS = re.compile(r"\d+")


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order, duplicates kept."""
    out: list[str] = []
    for run in _RUNS.findall(normalize(text[:MAX_TEXT_CHARS])):
        if is_cjk(run[0]):
            # Code points of the CJK blocks this Python does not know as letters would split
            # the index's words (unicode61 reads them as separators): they are left out.
            run = run if run.isalnum() else "".join(c for c in run if c.isalnum())
            if run:
                out.extend(_cjk_terms(run))
        else:
            out.append(run if run.isdigit() else stem(run))
        if len(out) >= MAX_TERMS:
            break
    return out[:MAX_TERMS]


def phone_terms(e164: str) -> list[str]:
    """An E.164 number as the digit strings people type: international and national."""
    digits = "".join(_DIGITS.findall(e164))
    if not digits:
        return []
    found = [digits]
    national = national_digits(e164)
    if national and national != digits:
        found.append(national)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """What a search box's text asks for: every term must match; the last one may be the
    start of a word still being typed."""

    terms: tuple[str, ...]
    prefix: bool
    phone: str | None = None

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phone


def parse_query(text: str) -> Query:
    text = text[:200]
    typing = not text[-1:].isspace()  # no space after the last word: it may be half typed
    text = text.strip()
    digits = "".join(_DIGITS.findall(text)).lstrip("0")  # 00 and trunk 0 prefixes dropped
    if _PHONE_QUERY.match(text) and len(digits) >= 5:
        return Query((), True, digits)
    found = terms(text)
    unique = tuple(dict.fromkeys(found))[:MAX_QUERY_TERMS]
    if not unique:
        return Query((), False)
    last = unique[-1]
    # A half-typed Latin word (its stem is a prefix of any longer form) or a lone Chinese
    # character (found inside the pairs that start with it) matches as a prefix.
    prefix = (typing and not is_cjk(last[0])) or (len(last) == 1 and is_cjk(last))
    return Query(unique, prefix)


class _OneCharFold(dict[int, str]):
    """``str.translate`` table folding each character to one character (its folded form's
    first), filled as characters are met, so offsets in the folded copy are offsets in the text."""

    def __missing__(self, code: int) -> str:
        folded = normalize(chr(code))[:1] or " "
        if len(self) < 100_000:
            self[code] = folded
        return folded


_ONE_CHAR_FOLD = _OneCharFold()


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a snippet; ``mark`` pieces matched the query. Rendered as text, never HTML."""

    text: str
    mark: bool


def snippet(text: str, query: Query, width: int = 180) -> list[Segment]:
    """A window of ``text`` around the first match with the matches marked.

    Matching is done on a per-character folded copy so offsets map back to the original
    text: a full-width or accented word is marked where it stands.
    """
    text = " ".join(text.split())
    if not text:
        return []
    needles = [t for t in (query.terms or ((query.phone,) if query.phone else ())) if t]
    starts: list[tuple[int, int]] = []  # original [start, end) of each match
    if needles:
        folded = text.translate(_ONE_CHAR_FOLD)  # one folded char per original char
        for needle in needles:
            probe = needle if any(is_cjk(c) for c in needle) else needle[:max(3, len(needle) - 1)]
            for match in re.finditer(re.escape(probe), folded):
                end = match.end()
                if not any(is_cjk(c) for c in needle):
                    while end < len(folded) and folded[end].isalnum() and not is_cjk(folded[end]):
                        end += 1
                starts.append((match.start(), end))
    starts.sort()
    merged: list[tuple[int, int]] = []
    for start, end in starts:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    first = merged[0][0] if merged else 0
    lo = max(0, first - width // 3)
    hi = min(len(text), lo + width)
    segments: list[Segment] = []
    if lo > 0:
        segments.append(Segment("…", False))
    cursor = lo
    for start, end in merged:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        if start > cursor:
            segments.append(Segment(text[cursor:start], False))
        segments.append(Segment(text[start:end], True))
        cursor = end
    if cursor < hi:
        segments.append(Segment(text[cursor:hi], False))
    if hi < len(text):
        segments.append(Segment("…", False))
    return segments
