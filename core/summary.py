"""The summary CSV of DESIGN section 4: daily totals per (Date, SrcIP, DstIP)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Final, TextIO

from core.counts import Counts, Key, Totals, add_into

SUMMARY_HEADER: Final = ("Date", "SrcIP", "DstIP", "TotalFlowDuration", "TotalFwdPkts", "Flows")


def write_summary(out: TextIO, totals: Mapping[Key, Counts]) -> None:
    """Summary CSV rows sorted by (Date, SrcIP, DstIP)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    writer.writerows((*key, *totals[key]) for key in sorted(totals))


def by_date(totals: Mapping[Key, Counts]) -> dict[str, Totals]:
    """The totals split by day: a file covers one or two days, each summarized in its own object."""
    dates: dict[str, Totals] = {}
    for key, counts in totals.items():
        dates.setdefault(key.date, {})[key] = counts
    return dates


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
