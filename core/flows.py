"""Streaming reader of CICFlowMeter flow CSVs (DESIGN section 3) into one file's daily totals.

The hot loop works on bytes: an unquoted line is split only as far as the last column we need,
a line with a quote goes through the csv module, and every distinct IP or timestamp string is
validated once and cached. Memory is bounded by the number of distinct (day, pair) keys.
"""

from __future__ import annotations

import csv
import decimal
import gzip
import io
import ipaddress
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeVar

from core.timestamps import parse_date, parse_day, valid_time_bytes

SRC_IP: Final = "src_ip"
DST_IP: Final = "dst_ip"
TIMESTAMP: Final = "timestamp"
FLOW_DURATION: Final = "flow_duration"
TOT_FWD_PKTS: Final = "tot_fwd_pkts"
REQUIRED: Final = (SRC_IP, DST_IP, TIMESTAMP, FLOW_DURATION, TOT_FWD_PKTS)
DISPLAY_NAMES: Final = {
    SRC_IP: "Src IP",
    DST_IP: "Dst IP",
    TIMESTAMP: "Timestamp",
    FLOW_DURATION: "Flow Duration",
    TOT_FWD_PKTS: "Tot Fwd Pkts",
}
SPELLINGS: Final = {
    "src ip": SRC_IP,
    "source ip": SRC_IP,
    "src_ip": SRC_IP,
    "dst ip": DST_IP,
    "destination ip": DST_IP,
    "dst_ip": DST_IP,
    "timestamp": TIMESTAMP,
    "flow duration": FLOW_DURATION,
    "flow_duration": FLOW_DURATION,
    "tot fwd pkts": TOT_FWD_PKTS,
    "total fwd packets": TOT_FWD_PKTS,
    "total fwd packet": TOT_FWD_PKTS,
    "tot_fwd_pkts": TOT_FWD_PKTS,
}
# The Python port (cicflowmeter >= 0.3) writes snake_case headers and flow_duration in seconds.
SECONDS_DURATION_HEADER: Final = "flow_duration"

MISSING_FIELD: Final = "missing_field"
BAD_NUMBER: Final = "bad_number"
NEGATIVE_NUMBER: Final = "negative_number"
BAD_TIME: Final = "bad_time"
BAD_IP: Final = "bad_ip"
SKIP_REASONS: Final = (MISSING_FIELD, BAD_NUMBER, NEGATIVE_NUMBER, BAD_TIME, BAD_IP)

GZIP_MAGIC: Final = b"\x1f\x8b"
_QUOTE: Final = ord('"')
_UNDERSCORE: Final = ord("_")
_CACHE_LIMIT: Final = 1 << 17
_MICROS: Final = decimal.Decimal(1_000_000)

Key = tuple[str, str, str]
"""(Date, SrcIP, DstIP)"""
_K = TypeVar("_K")


def accumulate(target: dict[_K, list[int]], key: _K, values: Sequence[int]) -> None:
    """Add [flow duration, fwd packets, flows] to target[key]. The per-row loop inlines this."""
    acc = target.get(key)
    if acc is None:
        target[key] = [values[0], values[1], values[2]]
    else:
        acc[0] += values[0]
        acc[1] += values[1]
        acc[2] += values[2]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class RejectedFile(Exception):
    """The file as a whole cannot be summarized; str(exc) is the reason."""


@dataclass
class FileSummary:
    """Daily totals of one flow file: (date, src, dst) -> [flow duration us, fwd packets, flows]."""

    totals: dict[Key, list[int]] = field(default_factory=dict)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    dialect: str = "cicflowmeter"

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.skipped.values())


class _RawAdapter(io.RawIOBase):
    def __init__(self, source: Readable) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_flow_stream(source: Readable) -> io.BufferedIOBase:
    """A buffered, line-iterable byte stream; gzip input (by magic bytes) is decompressed."""
    buffered = source if isinstance(source, io.BufferedReader) else io.BufferedReader(_RawAdapter(source), 1 << 16)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    return buffered


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _split_header(line: bytes) -> list[str]:
    text = _decode(line).lstrip("\ufeff")
    return next(csv.reader([text]), [])


def _column_indexes(header: list[str]) -> tuple[dict[str, int], str]:
    indexes: dict[str, int] = {}
    duration_spelling = ""
    for position, name in enumerate(header):
        normalized = name.strip().lower()
        canonical = SPELLINGS.get(normalized)
        if canonical is not None and canonical not in indexes:
            indexes[canonical] = position
            if canonical == FLOW_DURATION:
                duration_spelling = normalized
    missing = [DISPLAY_NAMES[name] for name in REQUIRED if name not in indexes]
    if missing:
        joined = ",".join(header)
        hint = ""
        if len(header) <= 1 and (";" in joined or "\t" in joined):
            hint = " (the file is not comma-separated)"
        raise RejectedFile(f"missing required column(s): {', '.join(missing)}{hint}")
    return indexes, duration_spelling


def _normalize_ip(raw: bytes) -> str | None:
    try:
        return str(ipaddress.ip_address(raw.strip().decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None


def _decimal_micros(raw: bytes, scale: decimal.Decimal | None) -> int | None:
    """A non-negative integral count from a decimal; None if it is not a finite number."""
    try:
        value = decimal.Decimal(raw.strip().decode("ascii"))
    except (decimal.InvalidOperation, UnicodeDecodeError):
        return None
    if not value.is_finite():
        return None
    if scale is not None:
        value = (value * scale).to_integral_value(decimal.ROUND_HALF_EVEN)
    elif value != value.to_integral_value():
        return None
    return int(value)


def _count(raw: bytes) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return _decimal_micros(raw, None)
    return None if b"_" in raw else value


def _quoted_record(first: bytes, rest: Iterator[bytes]) -> list[bytes]:
    """One CSV record that starts with `first` and may continue over the next lines."""

    def lines() -> Iterator[str]:
        yield _decode(first)
        for line in rest:
            yield _decode(line)

    row = next(csv.reader(lines()), [])
    return [value.encode("utf-8") for value in row]


class _Caches:
    """Each distinct IP, date and time string is validated once; an invalid one caches as "" or False."""

    def __init__(self) -> None:
        self.ips: dict[bytes, str] = {}
        self.dates: dict[bytes, str] = {}
        self.times: dict[bytes, bool] = {}

    def ip(self, raw: bytes) -> str:
        value = self.ips.get(raw)
        if value is None:
            value = self.ips[raw] = _normalize_ip(raw) or ""
        return value

    def date(self, raw: bytes) -> str:
        value = self.dates.get(raw)
        if value is None:
            value = self.dates[raw] = parse_date(_decode(raw)) or ""
        return value

    def date_key(self, raw: bytes, date_part: bytes, time_part: bytes) -> bytes | str:
        """For a time part not cached yet: the raw date part to add the row under, or for an unusual
        layout (leading space, ISO 'T') the ISO day itself; "" when the timestamp is not valid."""
        if not date_part or not time_part or time_part[:1].isspace():
            return parse_day(_decode(raw)) or ""
        if len(self.times) >= _CACHE_LIMIT:
            self.times.clear()
        time_ok = self.times[time_part] = valid_time_bytes(time_part)
        return date_part if time_ok else ""


def summarize_stream(source: Readable) -> FileSummary:
    """Daily totals of one flow file, read as a stream. Raises RejectedFile for a file we cannot use."""
    stream = open_flow_stream(source)
    lines: Iterator[bytes] = iter(stream)
    try:
        return _summarize_lines(lines)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise RejectedFile(f"truncated or corrupt gzip data: {exc}") from None


def _summarize_lines(lines: Iterator[bytes]) -> FileSummary:
    header: list[str] = []
    for line in lines:
        if line.strip(b"\xef\xbb\xbf \t\r\n"):
            header = _split_header(line)
            break
    if not header:
        raise RejectedFile("empty file: no header line")
    indexes, duration_spelling = _column_indexes(header)
    seconds = duration_spelling == SECONDS_DURATION_HEADER
    summary = FileSummary(dialect="python-port (seconds)" if seconds else "cicflowmeter")

    i_src, i_dst, i_ts, i_dur, i_pkts = (indexes[name] for name in REQUIRED)
    width = max(indexes.values()) + 1
    skipped = summary.skipped
    caches = _Caches()
    time_get = caches.times.get
    # Rows are added up under their raw (date, src, dst) bytes; each distinct raw key is validated
    # and normalized once at the end, which is where rows with a bad date or IP are counted.
    raw_totals: dict[tuple[bytes | str, bytes, bytes], list[int]] = {}
    raw_get = raw_totals.get
    rows = 0

    for line in lines:
        if _QUOTE in line:  # an int needle is a plain memchr; b'"' takes a much slower path
            fields = _quoted_record(line, lines)
        else:
            fields = line.split(b",", width)
        if len(fields) < width:
            if line.strip():
                rows += 1
                skipped[MISSING_FIELD] += 1
            continue
        rows += 1

        raw_ts = fields[i_ts]
        date_part, _, time_part = raw_ts.partition(b" ")
        time_ok = time_get(time_part)
        date_key: bytes | str = date_part
        if time_ok is None:
            date_key = caches.date_key(raw_ts, date_part, time_part)
        elif not time_ok:
            date_key = ""
        if not date_key:
            skipped[MISSING_FIELD if not raw_ts.strip() else BAD_TIME] += 1
            continue

        raw_dur = fields[i_dur]
        raw_pkts = fields[i_pkts]
        try:
            if seconds:
                raise ValueError
            dur = int(raw_dur)
            pkts = int(raw_pkts)
            if _UNDERSCORE in raw_dur or _UNDERSCORE in raw_pkts:
                raise ValueError
        except ValueError:
            number_dur = _decimal_micros(raw_dur, _MICROS) if seconds else _count(raw_dur)
            number_pkts = _count(raw_pkts)
            if number_dur is None or number_pkts is None:
                empty = not (raw_dur.strip() if number_dur is None else raw_pkts.strip())
                skipped[MISSING_FIELD if empty else BAD_NUMBER] += 1
                continue
            dur, pkts = number_dur, number_pkts
        if dur < 0 or pkts < 0:
            skipped[NEGATIVE_NUMBER] += 1
            continue

        key = (date_key, fields[i_src], fields[i_dst])
        acc = raw_get(key)
        if acc is None:
            raw_totals[key] = [dur, pkts, 1]
        else:
            acc[0] += dur
            acc[1] += pkts
            acc[2] += 1

    totals = summary.totals
    for (date_key, raw_src, raw_dst), acc in raw_totals.items():
        day = date_key if isinstance(date_key, str) else caches.date(date_key)
        src, dst = caches.ip(raw_src), caches.ip(raw_dst)
        if not day:
            skipped[BAD_TIME] += acc[2]
        elif not src or not dst:
            empty = not (raw_src.strip() if not src else raw_dst.strip())
            skipped[MISSING_FIELD if empty else BAD_IP] += acc[2]
        else:
            accumulate(totals, (day, src, dst), acc)
    summary.rows_read = rows
    return summary
