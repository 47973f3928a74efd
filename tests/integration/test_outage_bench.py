"""Smoke run of ``frontdesk bench outage`` (the figures themselves are the benchmark's, not a test's)."""

from __future__ import annotations

import json

import pytest

from cti import outage_bench


def test_the_outage_benchmark_prints_its_figures_on_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert outage_bench.main(["--json", "--rounds", "1", "--outage", "0.3", "--talk", "0.3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= {"reconnect_p50_s", "reconnect_worst_s", "talk_error_max_s", "ended_during_outage"}
    assert result["ended_during_outage"] == 1  # the crashed call was marked, not counted as talked through the outage
    assert result["talk_error_max_s"] < result["outage_s"]
