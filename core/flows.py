"""Streaming reader of CICFlowMeter flow CSVs (DESIGN section 3) into one file's daily totals.

The hot loop works on bytes: an unquoted line is split only as far as the last column we need,
a line with a quote goes through the csv module, and every distinct IP, date or time string is
validated once. Rows are added up per raw date part under the raw bytes b"src,dst", into the
compact layout of core.table; each distinct key is validated and normalized once, at the end (a pair
of plain dotted quads is already normal and stays the bytes object read).

Every data line is a row: rows read = rows kept + rows skipped, always. The content's sha256 (after
decompression) is computed on the way, so that the same content is recognised under any name.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import gzip
import hashlib
import io
import ipaddress
import itertools
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Protocol

from core.counts import Totals
from core.headerless import BY_HEADER, LayoutDecision, recognise
from core.table import NORMAL_IPV4_PAIR, PLAIN_PAIR, DailyTotals, Pairs, place
from core.timestamps import parse_date, parse_day, valid_time_bytes
from core.units import MICROSECONDS, SECONDS, UnitDecision, decide_unit, evidence_columns, find_columns

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

MISSING_FIELD: Final = "missing_field"
BAD_NUMBER: Final = "bad_number"
NEGATIVE_NUMBER: Final = "negative_number"
BAD_TIME: Final = "bad_time"
BAD_IP: Final = "bad_ip"
UNCLOSED_QUOTE: Final = "unclosed_quote"
IMPLAUSIBLE_DATE: Final = "implausible_date"

GZIP_MAGIC: Final = b"\x1f\x8b"
QUOTE: Final = ord('"')
"""The quote byte, as an int: `QUOTE in line` is a plain memchr (a bytes needle takes a slower path)."""
_UNDERSCORE: Final = ord("_")
_ZERO: Final = ord("0")
_SEP: Final = b","
"""Joins the raw key's parts; never inside a part, since a valid IP or timestamp has no comma."""
_CACHE_LIMIT: Final = 1 << 17
_MICROS: Final = decimal.Decimal(1_000_000)
_MAX_DIGITS_BEFORE_POINT: Final = 20
"""A number with more integer digits is not a duration or a count (and would be costly to convert)."""
_NEAR_INTEGER: Final = decimal.Decimal("1e-6")
QUOTED_RECORD_MAX_LINES: Final = 64
"""A quoted field may span lines; a quote still open after this many lines never closes."""
MAX_HEADER_BYTES: Final = 1 << 20
"""CICFlowMeter headers are about 1.5 KB; a first line over 1 MiB is not one (and would be slow to split)."""
EVIDENCE_LINES: Final = 512
"""Data lines read ahead to decide the duration unit before the hot loop."""
_SNIFF_BYTES: Final = 1 << 16


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class RejectedFile(Exception):
    """The file as a whole cannot be summarized; str(exc) is the reason."""


_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class DateLimits:
    """The days a file may hold. A row dated before `earliest` or after `latest` (ISO days) is skipped
    as implausible_date; a file whose kept rows hold more than `max_dates` distinct days is rejected.

    The defaults take every real capture (down to a CICFlowMeter build whose clock bug writes 1970
    dates) and stop a hostile or broken file from making thousands of daily objects: a probe writes a
    file a day, a long capture spans days or weeks, and a year of days in one file (366) is the most
    a real file was seen to need, with room to spare."""

    earliest: str = "1970-01-01"
    latest: str = "2099-12-31"
    max_dates: int = 366

    def __post_init__(self) -> None:
        for name, value in (("earliest", self.earliest), ("latest", self.latest)):
            try:
                valid = _ISO_DAY.fullmatch(value) is not None and bool(datetime.date.fromisoformat(value))
            except ValueError:
                valid = False
            if not valid:
                raise ValueError(f"the {name} date must be a day written yyyy-mm-dd, not {value!r}")
        if self.earliest > self.latest:
            raise ValueError(f"the earliest date {self.earliest} is after the latest {self.latest}")
        if self.max_dates < 1:
            raise ValueError(f"the maximum number of dates per file must be at least 1, not {self.max_dates}")

    def check(self, table: DailyTotals) -> None:
        """Raise RejectedFile when the table holds more days than a file may."""
        if len(table.days) > self.max_dates:
            dates = table.dates()
            raise RejectedFile(
                f"too many dates: the rows hold {len(dates):,} distinct days ({dates[0]} to {dates[-1]}), "
                f"more than the {self.max_dates:,} a file may hold"
            )


@dataclass
class FileSummary:
    """Daily totals of one flow file, with what was read and skipped, how its columns were found, the
    duration unit used, and the sha256 of its content after decompression (hex)."""

    table: DailyTotals = field(default_factory=DailyTotals)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unit: UnitDecision = field(default_factory=lambda: UnitDecision(MICROSECONDS, "default: no data rows"))
    layout: LayoutDecision = BY_HEADER
    digest: str = ""

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.skipped.values())

    @property
    def totals(self) -> Totals:
        """Every (day, pair) as Key -> Counts: a full copy, for tests and small files."""
        return self.table.as_dict()


class _RawAdapter(io.RawIOBase):
    def __init__(self, source: Readable, cr_to_lf: bool = False, owns: bool = False) -> None:
        self._source = source
        self._cr_to_lf = cr_to_lf
        self._owns = owns

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        if self._cr_to_lf:
            data = data.replace(b"\r", b"\n")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        closer = getattr(self._source, "close", None)
        if self._owns and not self.closed and closer is not None:
            closer()
        super().close()


def buffered(source: Readable, *, owns: bool = False) -> io.BufferedReader:
    """Any readable source as a buffered, line-iterable byte stream; closing it closes the source only
    when the stream `owns` it (a caller's stdin or open body stays open otherwise)."""
    if isinstance(source, io.BufferedReader):
        return source
    return io.BufferedReader(_RawAdapter(source, owns=owns), 1 << 16)


class _Digesting(io.RawIOBase):
    """The content read through it, hashed on the way (no copy: sha256 reads the caller's buffer)."""

    def __init__(self, source: io.BufferedIOBase) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._source.readinto(buffer)
        self.sha256.update(buffer[:count])
        return count


@dataclass(frozen=True)
class FlowStream:
    stream: io.BufferedIOBase
    """The lines to read."""
    content: _Digesting
    plain: bool
    """Neither gzip nor bare-CR lines: offsets in the source are offsets in the text (core.ranges)."""

    def digest(self) -> str:
        """The hex sha256 of the whole content; whatever was not read yet is read first."""
        while self.stream.read(1 << 16):
            pass
        return self.content.sha256.hexdigest()


def open_flow_stream(source: Readable) -> FlowStream:
    """A buffered, line-iterable byte stream: gzip input (by magic bytes) is decompressed, and a file
    whose lines end in a bare CR (old Mac) is read as if they ended in LF."""
    reader = buffered(source)
    decompressed: io.BufferedIOBase = reader
    if reader.peek(2)[:2] == GZIP_MAGIC:
        decompressed = gzip.GzipFile(fileobj=reader, mode="rb")
    content = _Digesting(decompressed)
    stream: io.BufferedReader = io.BufferedReader(content, 1 << 16)
    start = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    plain = decompressed is reader
    if b"\r" in start.rstrip(b"\r") and b"\n" not in start:
        stream, plain = io.BufferedReader(_RawAdapter(stream, cr_to_lf=True), 1 << 16), False
    return FlowStream(stream, content, plain)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _header_problem(line: bytes) -> str | None:
    """Why a first line is not a header at all, before looking for columns."""
    if len(line) > MAX_HEADER_BYTES:
        return f"not a flow CSV header: the first line is {len(line):,} bytes long (a header is a few KB)"
    if line.startswith((b"\xff\xfe", b"\xfe\xff")) or (line[1:40:2].count(0) > 10 and line[:40:2].count(0) < 5):
        return "the file is UTF-16 encoded; flow CSVs must be UTF-8"
    text = line.rstrip(b"\r\n")
    controls = sum(1 for byte in text[:4096] if byte < 9 or 13 < byte < 32 or byte == 127)
    if b"\x00" in text or controls > len(text[:4096]) // 20:
        return "not a CSV text file: the first line holds binary data"
    return None


def _split_header(line: bytes) -> list[str]:
    try:
        return next(csv.reader([_decode(line).lstrip("\ufeff").rstrip("\r\n")]), [])
    except csv.Error as exc:
        raise RejectedFile(f"unreadable header line: {exc}") from None


def _looks_like_data(header: list[str]) -> bool:
    first = header[:200]
    ips = sum(1 for name in first if _normalize_ip(name.encode("utf-8", "replace")) is not None)
    numbers = sum(1 for name in first if name.strip().replace(".", "", 1).isdigit())
    return ips >= 1 and ips + numbers >= len(first) // 3


def _column_indexes(header: list[str]) -> dict[str, int]:
    indexes = find_columns(header, SPELLINGS)
    missing = [DISPLAY_NAMES[name] for name in REQUIRED if name not in indexes]
    if missing:
        joined = ",".join(header)
        hint = ""
        if len(header) <= 1 and (";" in joined or "\t" in joined):
            hint = " (the file is not comma-separated)"
        raise RejectedFile(f"missing required column(s): {', '.join(missing)}{hint}")
    return indexes


def _dotted_quad(raw: bytes) -> str | None:
    """A plain IPv4 address is already in its normal form: checking it by hand is 4x cheaper than
    ipaddress, which matters when a file has hundreds of thousands of distinct sources."""
    parts = raw.split(b".")
    if len(parts) != 4:
        return None
    for part in parts:
        if not part.isdigit() or len(part) > 3 or (len(part) > 1 and part[0] == _ZERO) or int(part) > 255:
            return None
    return raw.decode("ascii")


_HEXTET: Final = re.compile(rb"0|[1-9a-f][0-9a-f]{0,3}")


def _longest_zero_run(groups: list[bytes]) -> int:
    longest = run = 0
    for group in groups:
        run = run + 1 if group == b"0" else 0
        longest = max(longest, run)
    return longest


def _canonical_ipv6(raw: bytes) -> bool:
    """Whether `raw` is an IPv6 address exactly as ipaddress prints it (RFC 5952: lowercase, no
    leading zeros, the first longest run of two or more zero groups as "::"; no dotted or zoned form),
    checked without building the address: five times cheaper, for files full of distinct IPv6 hosts."""
    head, double, tail = raw.partition(b"::")
    left = head.split(b":") if head else []
    right = tail.split(b":") if tail else []
    missing = 8 - len(left) - len(right)
    if (missing < 2 if double else missing != 0) or not all(_HEXTET.fullmatch(group) for group in left + right):
        return False
    if not double:
        return _longest_zero_run(left) < 2
    if left[-1:] == [b"0"] or right[:1] == [b"0"]:  # a zero beside "::" belongs inside it
        return False
    return _longest_zero_run(left) < missing and _longest_zero_run(right) <= missing


def _normalize_ip(raw: bytes) -> str | None:
    quad = _dotted_quad(raw)
    if quad is not None:
        return quad
    if _canonical_ipv6(raw):
        return raw.decode("ascii")
    try:
        return str(ipaddress.ip_address(raw.strip().decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None


def _decimal(raw: bytes) -> decimal.Decimal | None:
    try:
        value = decimal.Decimal(raw.strip().decode("ascii"))
    except (decimal.InvalidOperation, UnicodeDecodeError):
        return None
    if not value.is_finite() or value.adjusted() >= _MAX_DIGITS_BEFORE_POINT:
        return None
    return value


def parse_duration(raw: bytes, seconds: bool) -> int | None:
    """Microseconds: a decimal or float is rounded half-even to the microsecond (what it means);
    in a file whose unit is seconds the value is scaled first. None if it is not a number."""
    value = _decimal(raw)
    if value is None:
        return None
    if seconds:
        value *= _MICROS
    return int(value.to_integral_value(decimal.ROUND_HALF_EVEN))


def parse_count(raw: bytes) -> int | None:
    """A packet count: integral, where float noise within 1e-6 of an integer counts as that integer."""
    try:
        value = int(raw)
    except ValueError:
        pass
    else:
        return None if _UNDERSCORE in raw else value
    number = _decimal(raw)
    if number is None:
        return None
    nearest = number.to_integral_value(decimal.ROUND_HALF_EVEN)
    return int(nearest) if abs(number - nearest) <= _NEAR_INTEGER else None


class Lines:
    """The file's lines, with lines handed back after a quote that never closed."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self.source = lines

    def push_back(self, lines: list[bytes]) -> None:
        if lines:
            self.source = itertools.chain(lines, self.source)


def _quoted_record(first: bytes, lines: Lines) -> list[bytes] | None:
    """One CSV record that starts with `first` and may continue over the next lines; None when its
    quote never closes (then the lines after `first` are handed back to be read as rows)."""
    taken: list[bytes] = []
    ran_out = False

    def feed() -> Iterator[str]:
        nonlocal ran_out
        yield _decode(first)
        while len(taken) < QUOTED_RECORD_MAX_LINES:
            line = next(lines.source, None)
            if line is None:
                break
            taken.append(line)
            yield _decode(line)
        ran_out = True

    try:
        row = next(csv.reader(feed()), [])
    except csv.Error:
        row, ran_out = [], True
    if ran_out:
        lines.push_back(taken)
        return None
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
            if len(self.ips) >= _CACHE_LIMIT:
                self.ips.clear()
            value = self.ips[raw] = _normalize_ip(raw) or ""
        return value

    def date(self, raw: bytes) -> str:
        value = self.dates.get(raw)
        if value is None:
            value = self.dates[raw] = parse_date(_decode(raw)) or ""
        return value

    def date_key(self, raw: bytes, date_part: bytes, time_part: bytes) -> bytes:
        """For a time part not cached yet: the raw date part to add the row under, or for an unusual
        layout (leading space, ISO 'T') the ISO day itself; b"" when the timestamp is not valid."""
        if not date_part or not time_part or time_part[:1].isspace():
            return (parse_day(_decode(raw)) or "").encode()
        if len(self.times) >= _CACHE_LIMIT:
            self.times.clear()
        time_ok = self.times[time_part] = valid_time_bytes(time_part)
        return date_part if time_ok else b""


def summarize_stream(source: Readable, *, limits: DateLimits | None = None) -> FileSummary:
    """Daily totals of one flow file, read as a stream, within `limits` (default DateLimits()).
    Raises RejectedFile for a file we cannot use; no other exception comes from the bytes themselves
    (only from reading the source)."""
    limits = limits or DateLimits()
    try:
        flow = open_flow_stream(source)
        lines = Lines(iter(flow.stream))
        summary = summarize_rows(lines, read_head(lines), limits)
        summary.digest = flow.digest()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise RejectedFile(f"truncated or corrupt gzip data: {exc}") from None
    limits.check(summary.table)
    return summary


@dataclass(frozen=True)
class Head:
    """What the first lines decide for the whole file: the columns (and how they were found), the
    duration unit, and the byte offset where the data lines start (for readers of byte ranges,
    core.ranges)."""

    indexes: dict[str, int]
    unit: UnitDecision
    data_start: int
    layout: LayoutDecision = BY_HEADER


_BOM: Final = b"\xef\xbb\xbf"


def read_head(lines: Lines) -> Head:
    """Read the header (or recognise the layout of a file without one) and look ahead at the first
    data lines (handed back to `lines`)."""
    consumed = 0
    for line in lines.source:
        consumed += len(line)
        if line.strip(_BOM + b" \t\r\n"):
            problem = _header_problem(line)
            if problem:
                raise RejectedFile(problem)
            header = _split_header(line)
            break
    else:
        raise RejectedFile("empty file: no header line")
    ahead = list(itertools.islice(lines.source, EVIDENCE_LINES))
    layout = BY_HEADER
    if not find_columns(header, SPELLINGS):  # no name of ours: perhaps no header at all
        first = line.removeprefix(_BOM)
        found = recognise(first, ahead)
        if not isinstance(found, str):
            header, layout = found.layout.columns, found.decision
            ahead.insert(0, first)
            consumed -= len(first)
        elif _looks_like_data(header):
            raise RejectedFile(
                "no header line: the first line looks like flow data (IP addresses and numbers), and the rows "
                f"fit none of the known headerless layouts ({found})"
            )
    indexes = _column_indexes(header)
    unit = decide_unit(ahead, indexes[FLOW_DURATION], indexes[TOT_FWD_PKTS], evidence_columns(header))
    lines.push_back(ahead)
    return Head(indexes, unit, consumed, layout)


def summarize_rows(lines: Lines, head: Head, limits: DateLimits) -> FileSummary:
    """The hot loop over the data lines, with the columns and the duration unit already decided.
    Rows dated outside the limits are skipped; the number of dates is left to the caller to check
    (a range of a file holds only some of them)."""
    seconds = head.unit.unit == SECONDS
    summary = FileSummary(unit=head.unit, layout=head.layout)
    indexes = head.indexes

    i_src, i_dst, i_ts, i_dur, i_pkts = (indexes[name] for name in REQUIRED)
    width = max(indexes.values()) + 1
    skipped = summary.skipped
    caches = _Caches()
    time_get = caches.times.get
    packets: dict[bytes, int] = {}
    packets_get = packets.get
    # Rows are added up per raw date part, under the raw b"src,dst", into a flat list of sums
    # (core.table's layout); each distinct raw key is validated and normalized once, at the end.
    raw_days: dict[bytes, Pairs] = {}
    sums = summary.table.sums
    last_date = b""
    pairs: Pairs = {}
    pairs_get = pairs.get
    rows = 0
    sep = _SEP

    while True:
        for line in lines.source:
            if QUOTE in line:
                quoted = _quoted_record(line, lines)
                if quoted is None:
                    rows += 1
                    skipped[UNCLOSED_QUOTE] += 1
                    break  # the lines after it were handed back: iterate the chained source
                fields = quoted
                if len(fields) >= width and any(sep in fields[i] for i in (i_src, i_dst, i_ts)):
                    rows += 1
                    skipped[BAD_IP if sep in fields[i_src] or sep in fields[i_dst] else BAD_TIME] += 1
                    continue
            else:
                fields = line.split(sep, width)
            if len(fields) < width:
                if line.strip():
                    rows += 1
                    skipped[MISSING_FIELD] += 1
                continue
            rows += 1

            raw_ts = fields[i_ts]
            date_part, _, time_part = raw_ts.partition(b" ")
            time_ok = time_get(time_part)
            date_key = date_part
            if time_ok is None:
                date_key = caches.date_key(raw_ts, date_part, time_part)
            elif not time_ok:
                date_key = b""
            if not date_key:
                skipped[MISSING_FIELD if not raw_ts.strip() else BAD_TIME] += 1
                continue

            raw_dur = fields[i_dur]
            raw_pkts = fields[i_pkts]
            pkts = packets_get(raw_pkts)  # packet counts repeat: each distinct one is converted once
            try:
                if seconds:
                    raise ValueError
                dur = int(raw_dur)
                if _UNDERSCORE in raw_dur:
                    raise ValueError
                if pkts is None:
                    pkts = int(raw_pkts)
                    if _UNDERSCORE in raw_pkts:
                        raise ValueError
                    if len(packets) < _CACHE_LIMIT:
                        packets[raw_pkts] = pkts
            except ValueError:
                number_dur = parse_duration(raw_dur, seconds)
                number_pkts = parse_count(raw_pkts)
                if number_dur is None or number_pkts is None:
                    empty = not (raw_dur.strip() if number_dur is None else raw_pkts.strip())
                    skipped[MISSING_FIELD if empty else BAD_NUMBER] += 1
                    continue
                dur, pkts = number_dur, number_pkts
            if dur < 0 or pkts < 0:
                skipped[NEGATIVE_NUMBER] += 1
                continue

            if date_key != last_date:
                found = raw_days.get(date_key)
                if found is None:
                    found = raw_days[date_key] = {}
                pairs, pairs_get, last_date = found, found.get, date_key
            key = fields[i_src] + sep + fields[i_dst]
            offset = pairs_get(key)
            if offset is None:
                pairs[key] = len(sums)
                sums += (dur, pkts, 1)
            else:
                sums[offset] += dur
                sums[offset + 1] += pkts
                sums[offset + 2] += 1
        else:
            break

    _normalize(raw_days, summary.table, caches, skipped, limits)
    summary.rows_read = rows
    return summary


def _normalize(
    raw_days: dict[bytes, Pairs], table: DailyTotals, caches: _Caches, skipped: Counter[str], limits: DateLimits
) -> None:
    """Move the raw tables into `table` under ISO days and normal IPs, validating each distinct raw
    key once. A pair of plain dotted quads is already normal: it stays, the same bytes object."""
    sums = table.sums
    while raw_days:
        raw_date, pairs = raw_days.popitem()
        day = caches.date(raw_date)
        if not day or not limits.earliest <= day <= limits.latest:
            skipped[IMPLAUSIBLE_DATE if day else BAD_TIME] += sum(sums[offset + 2] for offset in pairs.values())
            continue
        for raw_pair in [pair for pair in pairs if NORMAL_IPV4_PAIR.fullmatch(pair) is None]:
            offset = pairs.pop(raw_pair)
            raw_src, raw_dst = raw_pair.split(_SEP, 1)
            src, dst = caches.ip(raw_src), caches.ip(raw_dst)
            if not src or not dst:
                empty = not (raw_src.strip() if not src else raw_dst.strip())
                skipped[MISSING_FIELD if empty else BAD_IP] += sums[offset + 2]
                continue
            pair = f"{src},{dst}".encode("ascii")
            table.plain = table.plain and PLAIN_PAIR.fullmatch(pair) is not None
            place(pairs, sums, pair, offset)
        if not pairs:  # every row of the day had an invalid address: the file does not cover it
            continue
        known_pairs = table.days.get(day)
        if known_pairs is None:
            table.days[day] = pairs
            continue
        if len(known_pairs) < len(pairs):  # two spellings of one day: add the smaller into the larger
            table.days[day], pairs, known_pairs = pairs, known_pairs, pairs
        for pair, offset in pairs.items():
            place(known_pairs, sums, pair, offset)
