"""Business time: weekends, holidays, time zones and DST, with properties over random instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.calendar import AlwaysOpen, BusinessCalendar
from core.errors import InvalidInput

WEEKDAYS_9_TO_6 = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
SHANGHAI = BusinessCalendar("cn", "Asia/Shanghai", WEEKDAYS_9_TO_6, ["2026-10-01", "2026-10-02"])
NEW_YORK = BusinessCalendar("ny", "America/New_York", WEEKDAYS_9_TO_6 | {"sat": ["10:00-12:00", "13:00-14:00"]})
BERLIN_NIGHTS = BusinessCalendar("de", "Europe/Berlin", {d: ["00:00-03:00", "22:00-24:00"] for d in ("sat", "sun")})
CALENDARS = [SHANGHAI, NEW_YORK, BERLIN_NIGHTS]

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
durations = st.floats(min_value=1, max_value=200 * 3600, allow_nan=False)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_twelve_business_hours_from_friday_afternoon_end_on_tuesday_morning_in_shanghai() -> None:
    friday_4pm_local = utc(2026, 1, 9, 8)  # 16:00 in Shanghai
    # 2h Friday, 9h Monday, 1h Tuesday → Tuesday 10:00 local = 02:00 UTC.
    assert SHANGHAI.add(friday_4pm_local, 12 * 3600) == utc(2026, 1, 13, 2)


def test_holidays_do_not_count() -> None:
    before_national_day = utc(2026, 9, 30, 9)  # Wednesday 17:00 local
    # 1h Wednesday; Thursday and Friday are holidays; 8h on Monday 5 October → 17:00 local.
    assert SHANGHAI.add(before_national_day, 9 * 3600) == utc(2026, 10, 5, 9)
    assert SHANGHAI.between(utc(2026, 10, 1, 0), utc(2026, 10, 3, 0)) == 0


def test_working_hours_follow_local_time_across_dst() -> None:
    # New York opens at 09:00 local: 14:00 UTC in winter, 13:00 UTC after the March change.
    assert NEW_YORK.next_open(utc(2026, 3, 6, 23)) == utc(2026, 3, 7, 15)  # Saturday 10:00 EST
    assert NEW_YORK.next_open(utc(2026, 3, 8, 23)) == utc(2026, 3, 9, 13)  # Monday 09:00 EDT
    # Berlin weekend nights across the October change: Saturday 00-03 and 22-24 (CEST), then
    # Sunday 00:00-03:00 lasts 4 h (02:00-03:00 happens twice), then Sunday 22-24 (CET).
    assert BERLIN_NIGHTS.between(utc(2026, 10, 23, 22), utc(2026, 10, 26, 0)) == (3 + 2 + 4 + 2) * 3600


def test_calendar_time_counts_every_second() -> None:
    always = AlwaysOpen()
    t = utc(2026, 1, 10, 3)
    assert always.add(t, 12 * 3600) == t + timedelta(hours=12)
    assert always.between(t, t + timedelta(days=2)) == 2 * 86400


@pytest.mark.parametrize(
    "hours",
    [{"mon": ["18:00-09:00"]}, {"mon": ["9-18"]}, {"funday": ["09:00-10:00"]}, {}, {"mon": ["09:00-12:00", "11:00-13:00"]}],
)
def test_bad_calendars_are_refused(hours: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidInput):
        BusinessCalendar("x", "UTC", hours)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput):
        BusinessCalendar("x", "Mars/Olympus", WEEKDAYS_9_TO_6)


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=instants, seconds=durations)
def test_adding_business_time_never_lands_outside_working_hours(
    cal: BusinessCalendar, start: datetime, seconds: float
) -> None:
    end = cal.add(start, seconds)
    # The end is inside a working interval, or exactly at its close.
    assert cal.is_open(end) or cal.is_open(end - timedelta(microseconds=1))
    assert abs(cal.between(start, end) - seconds) < 0.001
    assert end > start


@settings(max_examples=100, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=instants, seconds=durations)
def test_subtracting_undoes_adding(cal: BusinessCalendar, start: datetime, seconds: float) -> None:
    end = cal.add(start, seconds)
    back = cal.add(end, -seconds)
    assert abs(cal.between(back, start)) < 0.001
