"""The wallboard's day charts span the working day (issue 14), not 00:00 to now."""

from __future__ import annotations

from datetime import date

from agent_ui.wallboard.feed import chart_window, hour_labels, working_day
from alerts.settings import CalendarDefinition

MONDAY, SATURDAY = date(2026, 1, 5), date(2026, 1, 10)


def test_the_window_is_the_calendars_opening_to_closing() -> None:
    office = CalendarDefinition(name="office", hours={"mon": ["09:00-12:00", "13:00-18:30"]})
    assert working_day([office], MONDAY) == (36, 74)  # 09:00 .. 18:30


def test_without_hours_that_day_or_a_calendar_it_is_eight_to_eight() -> None:
    assert working_day([CalendarDefinition(name="office")], SATURDAY) == (32, 80)
    assert working_day([], MONDAY) == (32, 80)


def test_traffic_outside_the_working_day_stretches_the_window() -> None:
    assert chart_window(32, 80, [30, 40, 85]) == (30, 86)
    assert chart_window(32, 80, []) == (32, 80)


def test_labels_fall_on_whole_hours_without_crowding() -> None:
    labels = hour_labels(32, 80)
    assert len(labels) == 48
    assert [x for x in labels if x] == ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
