"""The summary CSV of DESIGN section 4: daily totals per (Date, SrcIP, DstIP)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import BinaryIO, Final, TextIO

from core.counts import Counts, Key, Totals, add_into
from core.table import DailyTotals

SUMMARY_HEADER: Final = ("Date", "SrcIP", "DstIP", "TotalFlowDuration", "TotalFwdPkts", "Flows")
_HEADER_LINE: Final = (",".join(SUMMARY_HEADER) + "\n").encode()
_LINES_PER_WRITE: Final = 1 << 14


def write_summary(out: TextIO, totals: Mapping[Key, Counts]) -> None:
    """Summary CSV rows sorted by (Date, SrcIP, DstIP)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    writer.writerows((*key, *totals[key]) for key in sorted(totals))


def write_table(out: BinaryIO, table: DailyTotals, dates: Iterable[str] | None = None) -> None:
    """The same CSV, as bytes, of a table's `dates` (default: all), written straight from the table."""
    out.write(_HEADER_LINE)
    sums = table.sums
    for day in table.dates() if dates is None else dates:
        if not table.plain:  # a pair that may need quoting: let csv decide
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows((*key, *counts) for key, counts in table.items([day]))
            out.write(text.getvalue().encode())
            continue
        pairs = table.days.get(day, {})
        prefix = day.encode() + b","
        lines = []
        for pair in sorted(pairs):
            offset = pairs[pair]
            lines.append(b"%s%s,%d,%d,%d\n" % (prefix, pair, sums[offset], sums[offset + 1], sums[offset + 2]))
            if len(lines) >= _LINES_PER_WRITE:
                out.write(b"".join(lines))
                lines.clear()
        out.write(b"".join(lines))


def read_summary(lines: Iterable[str]) -> Totals:
    """Parse a summary CSV (as written by write_summary); a malformed one raises ValueError."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(header) != SUMMARY_HEADER:
        raise ValueError(f"not a summary CSV: header {header!r}")
    totals: Totals = {}
    add_into(
        totals,
        (
            (Key(date, src, dst), Counts(int(duration), int(packets), int(flows)))
            for date, src, dst, duration, packets, flows in (row for row in reader if row)
        ),
    )
    return totals
