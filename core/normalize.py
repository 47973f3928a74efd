"""Text normalisation shared by keyword matching and article search.

Mail text is ``fold``-ed: NFKC (full-width ``ＲＥＦＵＮＤ`` becomes ``refund``), case-folding,
accents stripped from Latin letters (``devolución`` meets ``devolucion``), whitespace
collapsed. Keywords are ``normalize``-d (the same, plus traditional Chinese characters
mapped to simplified ones) and then spelled out in every form a mail may use.

The Chinese mapping is character by character, built from OpenCC's traditional-to-
simplified dictionary: a phrase-level conversion would depend on the neighbouring
characters, so a keyword could normalise differently on its own than inside a mail.
Word forms and traditional spellings are handled on the keyword side (``word_forms``,
``chinese_variants``), so mail text is never stemmed or converted: the hot path
(``fold``) is a few C-level passes over the string.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

# CJK unified ideographs (base, extension A, the supplementary planes' extensions) and
# compatibility ideographs; these are written without spaces between words. (The
# traditional-to-simplified table is built over the first two ranges.)
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
_HAS_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_COMBINING = re.compile("[\u0300-\u036f]+")


def is_cjk(char: str) -> bool:
    return ("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"
            or "\U00020000" <= char <= "\U0003134f")


def is_word_char(char: str) -> bool:
    """A character that continues a Latin word (Chinese and Japanese have no word
    boundaries, so a Latin keyword right next to them still stands alone)."""
    return char.isalnum() and not (is_cjk(char) or "\u3040" <= char <= "\u30ff")


@functools.cache
def _latin_table() -> dict[int, str]:
    """Latin letters with diacritics → the bare letters; combining marks → nothing."""
    table: dict[int, str] = {}
    for code in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        stripped = _COMBINING.sub("", unicodedata.normalize("NFD", char))
        if stripped != char:
            table[code] = stripped
    for code in range(0x0300, 0x0370):
        table[code] = ""
    return table


@functools.cache
def _t2s_table() -> dict[int, str]:
    """Traditional → simplified, one character to one character, from OpenCC."""
    import opencc  # imported lazily: only needed once, to build the table

    converter = opencc.OpenCC("t2s")
    table: dict[int, str] = {}
    for lo, hi in _CJK_RANGES[:2]:
        chars = [chr(c) for c in range(lo, hi + 1)]
        converted = converter.convert("\n".join(chars)).split("\n")
        if len(converted) != len(chars):  # pragma: no cover - defensive, per character then
            converted = [converter.convert(c) for c in chars]
        for source, target in zip(chars, converted, strict=True):
            if source != target and len(target) == 1:
                table[ord(source)] = target
    # Follow chains so the mapping is idempotent (a target is never itself mapped).
    for code, target in list(table.items()):
        seen = {code}
        while ord(target) in table and ord(target) not in seen:
            seen.add(ord(target))
            target = table[ord(target)]
        table[code] = target
    return table


@functools.cache
def _s2t_table() -> dict[str, tuple[str, ...]]:
    """Simplified character → itself and the traditional characters that fold onto it."""
    variants: dict[str, list[str]] = {}
    for code, target in _t2s_table().items():
        variants.setdefault(target, [target]).append(chr(code))
    return {k: tuple(v) for k, v in variants.items()}


# Characters that never need folding beyond lower-casing: ASCII, CJK ideographs (their
# traditional forms are met on the keyword side, see ``chinese_variants``), the common
# CJK and full-width punctuation (in every Chinese sentence, never deciding a match).
# Whitespace other than the plain space (tabs, line breaks, the ideographic space) is kept out
# of ``_PLAIN`` so that one scan tells whether a text has anything to fold or to collapse.
_PLAIN = "\x00-\x08\x0e-\x1b\x20-\x7f\u3001-\u3003\u300a-\u3011\u4e00-\u9fff\uff01-\uff0f\uff1a-\uff20"
_MAYBE_SPECIAL = re.compile(f"[^{_PLAIN}]+")
# Whether there is anything to fold at all: a positive class matched over the whole text runs
# several times faster than searching for the first character outside it (the usual mail has none).
_ALL_PLAIN = re.compile(f"[{_PLAIN}]*")
_ODD_ASCII_SPACE = re.compile("[\t\n\x0b-\r\x1c-\x1f]")  # ASCII whitespace other than the space


@functools.lru_cache(maxsize=16384)  # the same accented words and characters recur in every mail
def _fold(run: str) -> str:
    run = unicodedata.normalize("NFKC", run).casefold()
    return unicodedata.normalize("NFKC", run).translate(_latin_table())


def _fold_run(match: re.Match[str]) -> str:
    return _fold(match.group())


def fold(text: str) -> str:
    """Mail text as the matcher reads it: NFKC, case-folded, Latin accents stripped,
    whitespace collapsed; Chinese characters are left as written.

    Only runs of characters outside ``_PLAIN`` go through Unicode normalisation, so a
    Chinese or plain-ASCII mail costs a couple of C-level scans; a text with nothing to fold
    and its words already single-spaced (the usual mail) is not split and joined again. (Runs are folded on
    their own: a combining mark composes only within its run; Latin marks are dropped.)
    """
    lowered = text.lower()
    if text.isascii():
        if _ODD_ASCII_SPACE.search(lowered) is None and "  " not in lowered and lowered[:1] != " " and lowered[-1:] != " ":
            return lowered
        return " ".join(lowered.split())
    if _ALL_PLAIN.fullmatch(lowered) is None:
        folded = _MAYBE_SPECIAL.sub(_fold_run, lowered)
    elif "  " not in lowered and lowered[:1] != " " and lowered[-1:] != " ":  # no space doubled or at either end
        return lowered  # nothing to fold and no whitespace to collapse: as it is
    else:
        folded = lowered
    return " ".join(folded.split())


def normalize(text: str) -> str:
    """The canonical form of keywords and article text: ``fold`` plus traditional
    Chinese mapped to simplified."""
    text = fold(text)
    if _HAS_CJK.search(text):
        text = text.translate(_t2s_table())
    return text


MAX_VARIANTS = 256


def chinese_variants(text: str) -> set[str]:
    """The spellings of normalised ``text`` that mix traditional and simplified characters
    (``退货`` → ``退货``, ``退貨``), so mail text needs no conversion. Capped for long phrases."""
    if not _HAS_CJK.search(text):
        return {text}
    table = _s2t_table()
    options = [table.get(char, (char,)) for char in text]
    return {"".join(p) for p in itertools.islice(itertools.product(*options), MAX_VARIANTS)}


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(text) is not None


# Suffixes of English and Spanish inflection, longest first.
_SUFFIXES = ("iones", "ings", "ing", "ies", "ied", "es", "ed", "s")


def stem(word: str) -> str:
    """A crude stem: enough to relate refund/refunds/refunded/refunding, pedido/pedidos."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "iones":
                return base + "ion"
            if suffix in ("ing", "ed") and len(base) >= 4 and base[-1] == base[-2]:
                return base[:-1]  # stopped → stop, shipping → ship
            return base
    return word


def _forms_of_word(word: str) -> set[str]:
    if has_cjk(word) or not word.isalpha():
        return {word}
    base = stem(word)
    forms = {word, base, base + "s", base + "es", base + "ed", base + "ing"}
    if base.endswith("e"):
        forms |= {base + "d", base[:-1] + "ing"}
    if base.endswith("y"):
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base.endswith("ion"):
        forms.add(base + "es")  # devolucion → devoluciones
    if len(base) >= 3 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou" and base[-3] not in "aeiou":
        forms |= {base + base[-1] + "ed", base + base[-1] + "ing"}  # ship → shipped, shipping
    return {f for f in forms if len(f) >= 2}


def word_forms(phrase: str) -> set[str]:
    """Normalised variants of a keyword: inflections of its last Latin word.

    ``"password reset"`` also finds ``"password resets"``; Chinese phrases stay as they are.
    """
    norm = " ".join(normalize(phrase).split())
    if not norm:
        return set()
    head, _, last = norm.rpartition(" ")
    prefix = head + " " if head else ""
    return {prefix + form for form in _forms_of_word(last)}
