"""Per-pair daily totals, global statistics, and the traffic_stats and export CSVs (DESIGN section 4)."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from core.flows import Key, accumulate

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
Days = dict[str, list[int]]
"""date -> [flow duration, fwd packets, flows], one entry per day."""


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


def by_pair(totals: Iterable[tuple[Key, Sequence[int]]]) -> dict[Pair, Days]:
    """Group (date, src, dst) totals by pair, summing rows of the same day."""
    pairs: dict[Pair, Days] = {}
    for (date, src, dst), values in totals:
        accumulate(pairs.setdefault((src, dst), {}), date, values)
    return pairs


def _mean_std(values: list[int]) -> tuple[float, float]:
    mean = float(statistics.mean(values))
    std = float(statistics.stdev(values)) if len(values) > 1 else 0.0
    return mean, std


def pair_stats(days: Mapping[str, Sequence[int]]) -> PairStats:
    """Mean and sample standard deviation (n-1) of a pair's daily totals."""
    if not days:
        raise ValueError("a pair without days has no statistics")
    avg_duration, std_duration = _mean_std([day[0] for day in days.values()])
    avg_packets, std_packets = _mean_std([day[1] for day in days.values()])
    return PairStats(len(days), avg_duration, std_duration, avg_packets, std_packets)


def write_traffic_stats(out: TextIO, pairs: Mapping[Pair, Mapping[str, Sequence[int]]], header: bool = True) -> None:
    """traffic_stats.csv rows, one per pair, sorted by (SrcIP, DstIP)."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(STATS_HEADER)
    for pair in sorted(pairs):
        writer.writerow((*pair, *pair_stats(pairs[pair]).cells()))


def write_export(out: TextIO, pair: Pair, days: Mapping[str, Sequence[int]]) -> PairStats:
    """The export CSV of one pair: each day once, sorted by date, with the pair's global statistics."""
    stats = pair_stats(days)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for date in sorted(days):
        duration, packets, _flows = days[date]
        writer.writerow((date, *pair, duration, packets, *stats.cells()))
    return stats
