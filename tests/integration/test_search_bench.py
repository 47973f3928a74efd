"""``frontdesk bench search`` runs end to end and reports what the README's table quotes (a
tiny run: the figures themselves come from the full benchmark, not from CI)."""

from __future__ import annotations

import json

import pytest

from routing import search_bench


def test_a_tiny_search_bench_reports_its_keys(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    assert search_bench.main(["--entries", "500", "--queries", "30", "--json", "--database", database_url]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"entries", "queries", "p50_ms", "p95_ms", "database"} <= set(result)
    assert result["entries"] == 500 and result["queries"] == 30
    assert result["answered"] >= 10  # order numbers, names and phones are always found
