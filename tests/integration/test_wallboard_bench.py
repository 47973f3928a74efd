"""``frontdesk bench ws`` runs end to end with small numbers and prints the figures the issue names."""

from __future__ import annotations

import json

import pytest

from agent_ui.bench import main

KEYS = {"clients", "stalled_clients", "load_events_per_s", "frames_per_s", "delivery_p99_ms", "slow_clients_dropped",
        "server_cpu_percent"}


def test_the_bench_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--clients", "12", "--stalled", "2", "--load", "300", "--seconds", "9", "--agents", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["clients"] == 12 and result["stalled_clients"] == 2
    assert result["frames_per_s"] > 0 and result["delivery_p99_ms"] is not None
    assert result["slow_clients_dropped"] == 2  # the two that never read stopped answering pings
