"""Small SVG charts drawn on the server: no script, no library, readable across a room.

Each function returns markup safe to put in a template (numbers and escaped labels only).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24


def _nice_max(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return float(step)
    return float(value)


def _frame(title: str, ymax_label: str, labels: Sequence[str], body: str) -> Markup:
    plot_w = WIDTH - LEFT - RIGHT
    ticks = []
    count = len(labels)
    for i, label in enumerate(labels):
        if label and count:
            x = LEFT + (i + 0.5) * plot_w / count
            ticks.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="tick" text-anchor="middle">{escape(label)}</text>')
    base = HEIGHT - BOTTOM
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="none">'
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" class="axis"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" class="grid"/>'
        f'<text x="{LEFT - 4}" y="{TOP + 10}" class="tick" text-anchor="end">{escape(ymax_label)}</text>'
        f'<text x="{LEFT - 4}" y="{base}" class="tick" text-anchor="end">0</text>'
        f'{"".join(ticks)}{body}</svg>'
    )


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """Grouped bars, one group per label; ``series`` is (css class, values) per bar of a group."""
    count = max(len(labels), 1)
    top = _nice_max(max((v for _, values in series for v in values), default=0) or 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / count
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    bars = []
    for s, (css, values) in enumerate(series):
        for i, value in enumerate(values[:count]):
            if value <= 0:
                continue
            h = plot_h * value / top
            x = LEFT + i * group_w + group_w * 0.1 + s * bar_w
            bars.append(f'<rect class="{escape(css)}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                        f'width="{bar_w:.1f}" height="{h:.1f}"><title>{value}</title></rect>')
    return _frame(title, f"{top:g}", labels, "".join(bars))


def line_chart(title: str, labels: Sequence[str], values: Sequence[float | None], target: float | None = None) -> Markup:
    """A line of fractions 0..1 (gaps where None) with an optional dashed target line."""
    count = max(len(labels), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    if target is not None:
        y = TOP + plot_h * (1 - target)
        parts.append(f'<line class="target" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
    points: list[str] = []
    segments: list[list[str]] = [points]
    for i, value in enumerate(values[:count]):
        if value is None:
            if points:
                points = []
                segments.append(points)
            continue
        x = LEFT + (i + 0.5) * plot_w / count
        points.append(f"{x:.1f},{TOP + plot_h * (1 - max(0.0, min(1.0, value))):.1f}")
    for segment in segments:
        if len(segment) == 1:
            cx, cy = segment[0].split(",")
            parts.append(f'<circle class="line" cx="{cx}" cy="{cy}" r="3"/>')
        elif segment:
            parts.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
    return _frame(title, "100%", labels, "".join(parts))
