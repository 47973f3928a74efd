"""Shared figures: the benchmarks' percentile (nearest rank, so p99 of a hundred samples is the worst
but one), and ratios."""

from core.measure import percentile, ratio, rounded


def test_percentiles_by_nearest_rank() -> None:
    samples = [float(n) for n in range(100, 0, -1)]  # any order
    assert percentile(samples, 0.5) == 51.0
    assert percentile(samples, 0.99) == 100.0
    assert percentile(samples[1:], 0.99) == 99.0
    assert percentile([], 0.99) is None


def test_figures_are_scaled_and_rounded_for_the_json_line() -> None:
    assert rounded(0.12345, scale=1000) == 123.5
    assert rounded(None) is None


def test_a_ratio_of_nothing_is_no_figure_rather_than_zero() -> None:
    assert ratio(3, 4) == 0.75
    assert ratio(0, 5) == 0.0
    assert ratio(0, 0) is None
