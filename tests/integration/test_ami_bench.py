"""The AMI benchmark runs end to end with small numbers and prints the agreed keys."""

from __future__ import annotations

import json
import subprocess
import sys

KEYS = {"parse_only_events_per_s", "events_per_s", "agents", "load_events_per_s", "pops", "pop_p50_ms", "pop_p99_ms", "lost_pops"}


def test_bench_prints_the_figures_as_json_on_its_last_line() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from cti.bench import main; main(['--json','--agents','5','--pops','5','--events','3000','--load','200'])"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["agents"] == 5 and result["pops"] == 5 and result["lost_pops"] == 0
