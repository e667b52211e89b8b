"""Daily totals per (Date, SrcIP, DstIP): merging, and the summary CSV of DESIGN section 4."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TextIO

from core.flows import Key, accumulate

SUMMARY_HEADER: Final = ("Date", "SrcIP", "DstIP", "TotalFlowDuration", "TotalFwdPkts", "Flows")

Totals = dict[Key, list[int]]


def merge_into(target: Totals, source: Mapping[Key, Sequence[int]]) -> Totals:
    """Add `source` to `target` key by key (one number per day, DESIGN 5.1)."""
    for key, values in source.items():
        accumulate(target, key, values)
    return target


def merge(parts: Iterable[Mapping[Key, Sequence[int]]]) -> Totals:
    merged: Totals = {}
    for part in parts:
        merge_into(merged, part)
    return merged


def write_summary(out: TextIO, totals: Mapping[Key, Sequence[int]]) -> None:
    """Summary CSV rows sorted by (Date, SrcIP, DstIP)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_HEADER)
    for key in sorted(totals):
        duration, packets, flows = totals[key]
        writer.writerow((*key, duration, packets, flows))


def read_summary(lines: Iterable[str]) -> Totals:
    """Parse a summary CSV (as written by write_summary); a malformed one raises ValueError."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(header) != SUMMARY_HEADER:
        raise ValueError(f"not a summary CSV: header {header!r}")
    totals: Totals = {}
    for row in reader:
        if not row:
            continue
        date, src, dst, duration, packets, flows = row
        accumulate(totals, (date, src, dst), (int(duration), int(packets), int(flows)))
    return totals
