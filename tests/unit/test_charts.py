"""The wallboard's server-drawn SVG charts."""

from __future__ import annotations

import re

from agent_ui.wallboard.charts import bar_chart, line_chart


def test_bars_are_as_tall_as_their_values_and_labels_are_escaped() -> None:
    svg = bar_chart("<calls>", ["08:00", "", "<b>"], [("calls", [5, 10, 0]), ("emails", [2, 0, 1])])
    heights = {title: float(h) for h, title in re.findall(r'height="([\d.]+)"><title>(\d+)</title>', svg)}
    assert heights["10"] == 2 * heights["5"] and heights["2"] < heights["5"]
    assert svg.count("<rect") == 4  # no bar for a zero
    assert "&lt;b&gt;" in svg and "&lt;calls&gt;" in svg and "<b>" not in svg


def test_a_line_breaks_where_there_is_no_value_and_shows_the_target() -> None:
    svg = line_chart("service level", ["a", "b", "c", "d"], [0.5, None, 0.9, 1.0], target=0.8)
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # one point alone, then a line
    assert 'class="target"' in svg
