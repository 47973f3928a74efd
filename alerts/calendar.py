"""Business time: working hours per weekday, holidays and a time zone.

An SLA target counts either calendar time (``AlwaysOpen``) or business time
(``BusinessCalendar``). Both answer the same four questions in UTC: is it open at
``t``, when does it next open, what is ``t`` plus N working seconds, and how many
working seconds lie between two instants. Local wall-clock hours are turned into UTC
per day through ``zoneinfo``, so DST changes move the UTC hours, not the local ones.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# How far to look for the next working minute before deciding there is none.
_HORIZON_DAYS = 800


class WorkingTime(Protocol):
    name: str

    def is_open(self, t: datetime) -> bool: ...

    def next_open(self, t: datetime) -> datetime: ...

    def add(self, t: datetime, seconds: float) -> datetime: ...

    def between(self, a: datetime, b: datetime) -> float: ...


class AlwaysOpen:
    """Calendar time: every second counts."""

    name = "24x7"

    def is_open(self, t: datetime) -> bool:
        return True

    def next_open(self, t: datetime) -> datetime:
        return t

    def add(self, t: datetime, seconds: float) -> datetime:
        return t + timedelta(seconds=seconds)

    def between(self, a: datetime, b: datetime) -> float:
        return (b - a).total_seconds()


Span = tuple[time, time | None]  # end None means midnight at the end of the day


def parse_span(text: str) -> Span:
    """``"09:00-18:00"``; ``"00:00-24:00"`` is the whole day."""
    m = _SPAN.match(text)
    if not m:
        raise InvalidInput("working hours look like 09:00-18:00", {"hours": text})
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise InvalidInput("working hours must be valid times of day", {"hours": text})
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise InvalidInput("working hours must end after they start", {"hours": text})
    return start, end


class BusinessCalendar:
    def __init__(
        self,
        name: str,
        timezone: str,
        week: Mapping[str, Sequence[str]],
        holidays: Iterable[str | date] = (),
    ) -> None:
        self.name = name
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("unknown time zone", {"timezone": timezone}) from None
        unknown = set(week) - set(WEEKDAYS)
        if unknown:
            raise InvalidInput("weekdays are mon..sun", {"unknown": sorted(unknown)})
        self.week: list[list[Span]] = []
        for day in WEEKDAYS:
            spans = sorted(parse_span(s) for s in week.get(day, ()))
            for (_, end), (start, _) in itertools.pairwise(spans):
                if end is None or end > start:
                    raise InvalidInput("working hours of a day must not overlap", {"day": day})
            self.week.append(spans)
        if not any(self.week):
            raise InvalidInput("a business calendar needs working hours on at least one day")
        try:
            self.holidays = frozenset(h if isinstance(h, date) else date.fromisoformat(h) for h in holidays)
        except ValueError:
            raise InvalidInput("holidays are ISO dates like 2026-10-01") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        return cls(
            str(data["name"]), str(data.get("timezone", "UTC")), data.get("hours", {}), data.get("holidays", ())
        )

    def _day(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of one local date, in UTC, in order."""
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week[day.weekday()]:
            a = datetime.combine(day, start, self.tz).astimezone(UTC)
            if end is None:
                b = datetime.combine(day + timedelta(days=1), time(0), self.tz).astimezone(UTC)
            else:
                b = datetime.combine(day, end, self.tz).astimezone(UTC)
            if b > a:
                out.append((a, b))
        return out

    def _forward(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = t.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in self._day(day):
                if b > t:
                    yield max(a, t), b
            day += timedelta(days=1)
        raise InvalidInput("the calendar has no working time in the next two years", {"calendar": self.name})

    def _backward(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = t.astimezone(self.tz).date() + timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in reversed(self._day(day)):
                if a < t:
                    yield a, min(b, t)
            day -= timedelta(days=1)
        raise InvalidInput("the calendar has no working time in the last two years", {"calendar": self.name})

    def is_open(self, t: datetime) -> bool:
        day = t.astimezone(self.tz).date()
        return any(a <= t < b for d in (day - timedelta(days=1), day) for a, b in self._day(d))

    def next_open(self, t: datetime) -> datetime:
        """``t`` itself when open, else the start of the next working interval."""
        a, _ = next(self._forward(t))
        return a

    def add(self, t: datetime, seconds: float) -> datetime:
        """``t`` moved by ``seconds`` of working time (backwards when negative)."""
        if seconds == 0:
            return t
        remaining = timedelta(seconds=abs(seconds))
        if seconds > 0:
            for a, b in self._forward(t):
                if remaining <= b - a:
                    return a + remaining
                remaining -= b - a
        else:
            for a, b in self._backward(t):
                if remaining <= b - a:
                    return b - remaining
                remaining -= b - a
        raise AssertionError("unreachable: the iterators raise at the horizon")

    def between(self, a: datetime, b: datetime) -> float:
        """Working seconds from ``a`` to ``b`` (negative when ``b`` is earlier)."""
        if b < a:
            return -self.between(b, a)
        total = timedelta()
        day = a.astimezone(self.tz).date() - timedelta(days=1)
        last = b.astimezone(self.tz).date()
        while day <= last:
            for x, y in self._day(day):
                lo, hi = max(x, a), min(y, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds()

    def to_dict(self) -> dict[str, Any]:
        def span(s: Span) -> str:
            return f"{s[0]:%H:%M}-{'24:00' if s[1] is None else format(s[1], '%H:%M')}"

        return {
            "name": self.name,
            "timezone": self.tz.key,
            "hours": {d: [span(s) for s in spans] for d, spans in zip(WEEKDAYS, self.week, strict=True) if spans},
            "holidays": sorted(h.isoformat() for h in self.holidays),
        }
