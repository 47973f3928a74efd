"""The SLA benchmark runs end to end with small numbers and prints the agreed keys."""

from __future__ import annotations

import asyncio
import json

import pytest

from alerts import bench


async def test_the_benchmark_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(
        bench.main, ["--tickets", "3000", "--due", "100", "--lag-tickets", "20", "--lag-spread", "0.5", "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"tickets", "due", "due_query_ms", "detection_lag_p99_ms", "escalations_per_s"} <= set(result)
    assert result["tickets"] == 3000 and result["due"] == 100 and result["escalations"] == 100
    assert result["lag_samples"] == 20
