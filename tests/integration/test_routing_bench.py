"""``frontdesk bench routing`` runs end to end, prints the keys the issue names, and two assigners never double-offer."""

from __future__ import annotations

import json

import pytest

from routing import bench


def test_bench_routing_prints_its_figures_and_no_double_offer_or_over_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rules", "40", "--contacts", "200", "--replay-contacts", "300", "--agents", "20", "--waiting-tickets", "150",
            "--capacity", "3", "--offer-samples", "10", "--json"]
    assert bench.main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"rules", "contacts", "decisions_per_s", "replay_contacts", "replay_s", "agents", "waiting_tickets",
            "offer_p99_ms", "double_offers", "over_capacity"} <= set(result)
    assert (result["rules"], result["replay_contacts"], result["agents"], result["waiting_tickets"]) == (40, 300, 20, 150)
    assert result["decisions_per_s"] > 0 and result["decisions_per_cpu_s"] >= result["decisions_per_s"] * 0.5 and result["email_decisions_per_s"] > 0 and result["offers"] == 60  # 20 agents x 3 units, email weight 1
    assert (result["double_offers"], result["over_capacity"]) == (0, 0)
    assert result["offer_samples"] == 10 and result["offer_p99_ms"] is not None  # each freed capacity got its next offer
