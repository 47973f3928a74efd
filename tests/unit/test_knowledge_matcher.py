"""Ranking rules of the keyword matcher, as the agent sees them in the suggestions."""

from __future__ import annotations

from core.keyword_matcher import KeywordMatcher, TemplateKeywords


def _t(tid: int, keywords: dict[str, float], language: str = "", exclusions: tuple[str, ...] = (),
       usage: int = 0) -> TemplateKeywords:
    return TemplateKeywords(tid, f"t{tid}", language, tuple(keywords.items()), exclusions, usage)


def test_a_latin_keyword_needs_word_boundaries_but_finds_its_forms() -> None:
    matcher = KeywordMatcher([_t(1, {"refund": 1})])
    assert matcher.match("", "no prefunding here, nor refundable") == []
    for text in ("Refund!", "two REFUNDS", "it was refunded", "refunding (now)", "（ＲＥＦＵＮＤ）"):
        assert [s.template_id for s in matcher.match("", text)] == [1], text


def test_chinese_matches_inside_a_sentence_in_either_script_and_width() -> None:
    matcher = KeywordMatcher([_t(1, {"退货": 2}), _t(2, {"會員卡": 1})])
    assert [s.template_id for s in matcher.match("", "我想退貨，謝謝")] == [1]
    assert [s.template_id for s in matcher.match("", "我想退货谢谢")] == [1]
    assert [s.template_id for s in matcher.match("", "我的会员卡丢了")] == [2]


def test_spanish_without_accents_and_in_the_plural() -> None:
    matcher = KeywordMatcher([_t(1, {"devolución": 1, "pedido": 1})])
    found = matcher.match("", "DEVOLUCIONES de mis pedidos")
    assert found[0].matched == ("devolución", "pedido")


def test_subject_keywords_weigh_more_and_each_keyword_counts_once() -> None:
    matcher = KeywordMatcher([_t(1, {"late": 3}), _t(2, {"parcel": 2})])
    found = matcher.match("parcel", "late late late, my parcel is late")
    assert [(s.template_id, s.score) for s in found] == [(2, 4.0), (1, 3.0)]


def test_an_exclusion_vetoes_its_template_only() -> None:
    matcher = KeywordMatcher([_t(1, {"refund": 5}, exclusions=("invoice",)), _t(2, {"refund": 1})])
    assert [s.template_id for s in matcher.match("refund", "invoices attached")] == [2]


def test_ties_go_to_the_more_used_template_and_limit_is_kept() -> None:
    matcher = KeywordMatcher([_t(1, {"help": 1}), _t(2, {"help": 1}, usage=5), _t(3, {"help": 1})])
    assert [s.template_id for s in matcher.match("", "help", limit=2)] == [2, 1]


def test_language_keeps_its_own_and_language_neutral_templates() -> None:
    matcher = KeywordMatcher([_t(1, {"ok": 1}, "en"), _t(2, {"ok": 1}, "es"), _t(3, {"ok": 1})])
    assert {s.template_id for s in matcher.match("", "ok", language="es_MX")} == {2, 3}
    assert {s.template_id for s in matcher.match("", "ok")} == {1, 2, 3}


def test_no_templates_or_empty_text_suggest_nothing() -> None:
    assert KeywordMatcher([]).match("refund", "refund") == []
    assert KeywordMatcher([_t(1, {"refund": 1})]).match("", "") == []


def test_word_boundaries_hold_next_to_any_script() -> None:
    matcher = KeywordMatcher([_t(1, {"refund": 1}), _t(2, {"退款": 1})])
    assert {s.template_id for s in matcher.match("", "我要退款refund了")} == {1, 2}
    assert matcher.match("", "ørefund") == [] and matcher.match("", "refundø") == []
    assert matcher.match("", "жrefund") == [] and [s.template_id for s in matcher.match("", "«refund»")] == [1]
