"""The words search indexes and looks for: folding, Chinese pairs, phones, and snippets that
mark what matched without ever changing the text shown."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from core.search_terms import MAX_TERMS, parse_query, phone_terms, snippet, terms


def test_words_fold_and_chinese_runs_become_pairs() -> None:
    assert terms("Refunds ＲＥＦＵＮＤ devolución") == ["refund", "refund", "devolucion"]
    assert terms("我要退款") == ["我要", "要退", "退款"]
    assert terms("訂單 88231") == ["订单", "88231"]
    assert phone_terms("+8613800138000") == ["8613800138000", "13800138000"]


def test_queries_say_what_may_be_half_typed() -> None:
    assert parse_query("refu").prefix and not parse_query("refunds ").prefix
    assert parse_query("退").prefix and not parse_query("退款").prefix
    assert parse_query("+86 138-0013-8000").phone == "8613800138000"
    assert parse_query("   ").empty


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_query_parses_to_terms_the_index_syntax_cannot_misread(text: str) -> None:
    """Terms go into FTS5 and tsquery strings: only letters and digits may reach them."""
    query = parse_query(text)
    for term in query.terms:
        assert term and all(c.isalnum() for c in term)
    assert query.phone is None or query.phone.isdigit()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.text(min_size=1, max_size=20))
def test_a_snippet_shows_the_text_as_it_was_only_marked(text: str, q: str) -> None:
    pieces = snippet(text, parse_query(q))
    shown = "".join(p.text for p in pieces).strip("…")
    assert shown in " ".join(text.split())


def test_a_huge_mail_is_indexed_by_its_start_quickly() -> None:
    started = time.process_time()
    found = terms("word " * 2_000_000)
    assert len(found) == MAX_TERMS and time.process_time() - started < 5
