"""Calendar day of a CICFlowMeter timestamp, in every dialect of DESIGN section 3.

A timestamp is a date part and a time part separated by a space (or ISO's 'T'). The date part is
`dd/MM/yyyy` or `d/M/yyyy` (day first) or `yyyy-MM-dd`; the time part is `H:mm`, `H:mm:ss` or
`H:mm:ss.ffffff`, optionally followed by AM or PM (then the hour is 1 to 12). Both parts are
validated, but only the date part gives the day: no time-zone conversion, the time never moves it.
"""

from __future__ import annotations

import datetime
import re

_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:\s*([AaPp][Mm]))?")


def parse_date(text: str) -> str | None:
    """ISO date of a date part, or None."""
    match = _SLASH_DATE.fullmatch(text)
    if match:
        day, month, year = match.groups()
    else:
        match = _ISO_DATE.fullmatch(text)
        if not match:
            return None
        year, month, day = match.groups()
    try:
        return datetime.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def valid_time(text: str) -> bool:
    match = _TIME.fullmatch(text)
    if not match:
        return False
    hour, minute, second, meridiem = match.groups()
    if meridiem is not None and not 1 <= int(hour) <= 12:
        return False
    return int(hour) <= 23 and int(minute) <= 59 and int(second or 0) <= 59


_CICFLOWMETER_TIME = re.compile(
    rb"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|(?:0[1-9]|1[0-2]):[0-5][0-9]:[0-5][0-9] [AaPp][Mm]"
)
"""The two shapes CICFlowMeter writes (24-hour, and 12-hour with AM/PM), valid ones only."""


def valid_time_bytes(raw: bytes) -> bool:
    """valid_time of a raw field, with a fast path for the two shapes CICFlowMeter writes."""
    return _CICFLOWMETER_TIME.fullmatch(raw) is not None or valid_time(raw.decode("utf-8", errors="replace").strip())


def split_timestamp(text: str) -> tuple[str, str]:
    text = text.strip()
    date, separator, time = text.partition(" ")
    if not separator and "T" in text:
        date, _, time = text.partition("T")
    return date, time.strip()


def parse_day(text: str) -> str | None:
    """The ISO date (yyyy-mm-dd) a timestamp was written on, or None if it is not a valid timestamp."""
    date, time = split_timestamp(text)
    day = parse_date(date)
    return day if day is not None and valid_time(time) else None
