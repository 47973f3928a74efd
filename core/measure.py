"""Percentiles for the benchmarks' latency figures: one definition, so their figures compare."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The value ``fraction`` (0.99 for p99) of the way up the sorted values (nearest rank); None if none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def rounded(value: float | None, digits: int = 1, scale: float = 1.0) -> float | None:
    """``value * scale`` rounded, or None: how a figure goes into a benchmark's JSON line."""
    return None if value is None else round(value * scale, digits)
