"""Per-pair daily totals, global statistics, and the traffic_stats and export CSVs (DESIGN section 4)."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TextIO

from core.counts import Counts, Key

STATS_HEADER: Final = ("SrcIP", "DstIP", "Count", "AvgFlowDuration", "StdFlowDuration", "AvgFwdPkts", "StdFwdPkts")
EXPORT_HEADER: Final = (
    "Date",
    "SrcIP",
    "DstIP",
    "TotalFlowDuration",
    "TotalFwdPkts",
    "Count",
    "AvgFlowDuration",
    "StdFlowDuration",
    "AvgFwdPkts",
    "StdFwdPkts",
)

Pair = tuple[str, str]
Days = dict[str, Counts]
"""date -> the pair's counts of that day, one entry per day."""


@dataclass(frozen=True)
class PairStats:
    count: int
    avg_flow_duration: float
    std_flow_duration: float
    avg_fwd_pkts: float
    std_fwd_pkts: float

    def cells(self) -> tuple[str, ...]:
        return (
            str(self.count),
            repr(self.avg_flow_duration),
            repr(self.std_flow_duration),
            repr(self.avg_fwd_pkts),
            repr(self.std_fwd_pkts),
        )


def by_pair(totals: Iterable[tuple[Key, Counts]]) -> dict[Pair, Days]:
    """Group (date, src, dst) totals by pair, summing rows of the same day."""
    pairs: dict[Pair, Days] = {}
    for (date, src, dst), counts in totals:
        days = pairs.setdefault((src, dst), {})
        previous = days.get(date)
        days[date] = counts if previous is None else previous + counts
    return pairs


def _mean_std(values: list[int]) -> tuple[float, float]:
    mean = float(statistics.mean(values))
    std = float(statistics.stdev(values)) if len(values) > 1 else 0.0
    return mean, std


def pair_stats(days: Mapping[str, Counts]) -> PairStats:
    """Mean and sample standard deviation (n-1) of a pair's daily totals."""
    if not days:
        raise ValueError("a pair without days has no statistics")
    avg_duration, std_duration = _mean_std([day.duration for day in days.values()])
    avg_packets, std_packets = _mean_std([day.packets for day in days.values()])
    return PairStats(len(days), avg_duration, std_duration, avg_packets, std_packets)


def write_traffic_stats(out: TextIO, pairs: Mapping[Pair, PairStats]) -> None:
    """traffic_stats.csv: one row per pair, sorted by (SrcIP, DstIP)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATS_HEADER)
    for pair in sorted(pairs):
        writer.writerow((*pair, *pairs[pair].cells()))


def write_export(out: TextIO, pair: Pair, days: Mapping[str, Counts]) -> PairStats:
    """The export CSV of one pair: each day once, sorted by date, with the pair's global statistics."""
    stats = pair_stats(days)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for date in sorted(days):
        writer.writerow((date, *pair, days[date].duration, days[date].packets, *stats.cells()))
    return stats
