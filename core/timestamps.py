"""Calendar day of a CICFlowMeter timestamp, in every dialect of DESIGN section 3."""

from __future__ import annotations

import datetime
import re

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:\s*([AaPp][Mm]))?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")


def _valid_time(hour: int, minute: int, second: int, meridiem: str | None) -> bool:
    if meridiem is not None and not 1 <= hour <= 12:
        return False
    return hour <= 23 and minute <= 59 and second <= 59


def _day(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_day(text: str) -> str | None:
    """The ISO date (yyyy-mm-dd) a timestamp was written on, or None if it is not a valid timestamp.

    Dates with '/' are day first. The time of day is validated but never moves the day:
    there is no time-zone conversion.
    """
    text = text.strip()
    match = _DAY_FIRST.fullmatch(text)
    if match:
        d, m, y, hh, mm, ss, meridiem = match.groups()
        if not _valid_time(int(hh), int(mm), int(ss or 0), meridiem):
            return None
        return _day(int(y), int(m), int(d))
    match = _ISO.fullmatch(text)
    if match:
        y, m, d, hh, mm, ss = match.groups()
        if not _valid_time(int(hh), int(mm), int(ss or 0), None):
            return None
        return _day(int(y), int(m), int(d))
    return None
