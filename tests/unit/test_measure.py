"""The benchmarks' percentile: nearest rank, so p99 of a hundred samples is the worst but one."""

from core.measure import percentile, rounded


def test_percentiles_by_nearest_rank() -> None:
    samples = [float(n) for n in range(100, 0, -1)]  # any order
    assert percentile(samples, 0.5) == 51.0
    assert percentile(samples, 0.99) == 100.0
    assert percentile(samples[1:], 0.99) == 99.0
    assert percentile([], 0.99) is None


def test_figures_are_scaled_and_rounded_for_the_json_line() -> None:
    assert rounded(0.12345, scale=1000) == 123.5
    assert rounded(None) is None
