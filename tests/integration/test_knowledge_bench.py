"""``frontdesk bench match`` runs end to end and prints the keys the issue names."""

from __future__ import annotations

import json

import pytest

from knowledge import bench


def test_bench_match_prints_its_figures_as_the_last_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--templates", "30", "--emails", "60", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"templates", "emails", "emails_per_s", "matcher_emails_per_s"} <= set(result)
    assert (result["templates"], result["emails"]) == (30, 60)
    assert result["emails_with_suggestion"] > 0
