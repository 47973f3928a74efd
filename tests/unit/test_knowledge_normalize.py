"""Normalisation makes Chinese, English and Spanish keywords meet the mail text."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from core.keyword_matcher import KeywordMatcher, TemplateKeywords
from core.normalize import _s2t_table, fold, normalize, stem, word_forms


def test_full_width_case_and_accents_fold_away() -> None:
    assert normalize("ＲＥＦＵＮＤ Please") == "refund please"
    assert normalize("DEVOLUCIÓN del pedido") == "devolucion del pedido"
    assert normalize("Straße") == "strasse"


def test_traditional_chinese_meets_simplified() -> None:
    assert normalize("退貨與退款") == normalize("退货与退款") == "退货与退款"
    assert normalize("頭髮") == "头发"


def test_whitespace_collapses_so_phrases_survive_line_breaks() -> None:
    assert normalize("password\n   reset") == "password reset"


def test_word_forms_cover_simple_inflections() -> None:
    assert {"refund", "refunds", "refunded", "refunding"} <= word_forms("Refund")
    assert {"delivery", "deliveries"} <= word_forms("delivery")
    assert {"ship", "shipped", "shipping"} <= word_forms("ship")
    assert {"devolucion", "devoluciones"} <= word_forms("devolución")
    assert {"password reset", "password resets"} <= word_forms("password reset")
    assert word_forms("退款") == {"退款"}
    assert stem("refunds") == stem("refunded") == stem("refunding") == "refund"


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


_latin_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúñ", min_size=3, max_size=10)
_cjk_phrase = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=5)
_filler = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def _matcher(phrase: str) -> KeywordMatcher:
    return KeywordMatcher([TemplateKeywords(1, "t", "", ((phrase, 1.0),))])


@given(_cjk_phrase, _filler, _filler)
def test_a_chinese_keyword_is_found_anywhere_in_any_text(phrase: str, before: str, after: str) -> None:
    found = _matcher(phrase).match("", before + phrase + after)
    assert [s.template_id for s in found] == [1]


@given(_latin_word, _filler, _filler)
def test_a_latin_keyword_is_found_as_a_word_in_any_text(word: str, before: str, after: str) -> None:
    found = _matcher(word).match(before + " " + word.upper() + " " + after, "")
    assert [s.template_id for s in found] == [1]
    assert found[0].matched == (word,)


@given(st.text(max_size=60))
def test_fold_is_idempotent_and_normalize_builds_on_it(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert normalize(folded) == normalize(text)


@given(_cjk_phrase, _filler, _filler, st.randoms(use_true_random=False))
def test_a_keyword_is_found_whichever_script_the_mail_writes_it_in(
    phrase: str, before: str, after: str, rng: random.Random
) -> None:
    variants = _s2t_table()
    simplified = normalize(phrase)
    written = "".join(rng.choice(variants.get(char, (char,))) for char in simplified)
    found = _matcher(simplified).match("", before + written + after)
    assert [s.template_id for s in found] == [1]


def _fold_reference(text: str) -> str:
    """``fold`` written plainly: every run outside the plain ranges folded, then the whitespace collapsed."""
    import re

    from core.normalize import _fold

    plain = "\x00-\x7f\u3000-\u3003\u300a-\u3011\u4e00-\u9fff\uff01-\uff0f\uff1a-\uff20"
    return " ".join(re.sub(f"[^{plain}]+", lambda m: _fold(m.group()), text.lower()).split())


_mail_like = st.text(alphabet=st.sampled_from([*"ab Z\t\n\r\x0b\x1c\x1fé\u0301ＲΣς\xa0\u3000\u2003，。、退款貨\x00", "ﬁ", "İ", "Å"]),
                     max_size=40)


@given(st.one_of(_mail_like, st.text(max_size=40)))
def test_fold_is_the_plain_fold_and_collapse(text: str) -> None:
    """The fast paths (nothing to fold, single spaces) give what folding every run and collapsing would."""
    assert fold(text) == _fold_reference(text)


def test_fold_keeps_a_single_spaced_mail_as_lowered() -> None:
    assert fold("Refund for order 12 退款，谢谢。") == "refund for order 12 退款，谢谢。"
    assert fold(" Refund\u3000退款  now\t") == "refund 退款 now"
    assert fold("REFUND  now ") == "refund now"
