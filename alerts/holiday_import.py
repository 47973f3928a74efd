"""Holiday lists from files people already have: a CSV (a date in the first column, ISO or
day/month/year) or an iCalendar file (each event's ``DTSTART``, ``VALUE=DATE`` or a date-time).

Only dates are read; names and times are ignored, since a business calendar's holiday is a
whole day closed. A file with no date in it is refused rather than saved as "no holidays".
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

from core.errors import InvalidInput

MAX_HOLIDAYS = 1000
_ICS_START = re.compile(r"^DTSTART[^:]*:(\d{8})", re.MULTILINE)


def _csv_dates(text: str) -> list[date]:
    found = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip():
            continue
        cell = row[0].strip()
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%Y/%m/%d"):
            try:
                found.append(datetime.strptime(cell, pattern).date())
                break
            except ValueError:
                continue
    return found


def _ics_dates(text: str) -> list[date]:
    found = []
    for stamp in _ICS_START.findall(text.replace("\r\n", "\n")):
        try:
            found.append(datetime.strptime(stamp, "%Y%m%d").date())
        except ValueError:
            continue
    return found


def holidays_from_file(filename: str, raw: bytes) -> list[str]:
    """The ISO dates in a CSV or iCalendar file, sorted, each once."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the holiday file is not UTF-8 text", {"field": "holiday_file"}) from None
    is_ics = filename.lower().endswith((".ics", ".ical")) or "BEGIN:VCALENDAR" in text[:200]
    dates = _ics_dates(text) if is_ics else _csv_dates(text)
    if not dates:
        raise InvalidInput("no dates found in the holiday file (CSV: a date in the first column; or iCalendar)",
                           {"field": "holiday_file"})
    unique = sorted(set(dates))
    if len(unique) > MAX_HOLIDAYS:
        raise InvalidInput("the holiday file has too many dates", {"field": "holiday_file"})
    return [d.isoformat() for d in unique]
