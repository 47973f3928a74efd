"""How figures are computed where several places report them: percentiles for the benchmarks'
latencies, and ratios for the wallboard and the reports (one definition, so the figures compare)."""

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


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide by (shown as "no figure", not 0)."""
    return part / whole if whole > 0 else None
