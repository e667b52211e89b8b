"""Unusual days: a pair's daily total judged against the pair's *other* days (leave-one-out).

The baseline of a day is the pair's n - 1 other daily totals, taken exactly from the pair's running
sums (n, Σx, Σx²) minus that day: integers throughout, the mean and the sample standard deviation
each rounded once to a float (as core.consolidated.stats_of_sums does for the whole history), and
z = (total - mean) / std also computed from the integers and rounded once. A day is unusual when
|z| ≥ K on either metric (exactly, before rounding) and the baseline has at least N days. A baseline
with std 0 and a different total gives z = ±inf (unusual); an equal total gives 0.

Including the judged day in its own baseline, as a whole-history mean and std do, caps |z| at
(n - 1) / √n: 1.79 at 5 days, so a 2-sigma rule could never fire on a short history.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, NamedTuple, TextIO

from core.consolidated import sqrt_of_ratio, stats_of_sums
from core.counts import Counts
from core.stats import Pair, PairStats

ANOMALY_HEADER: Final = (
    "Date",
    "SrcIP",
    "DstIP",
    "TotalFlowDuration",
    "TotalFwdPkts",
    "BaselineDays",
    "MeanFlowDuration",
    "StdFlowDuration",
    "ZFlowDuration",
    "MeanFwdPkts",
    "StdFwdPkts",
    "ZFwdPkts",
)
MIN_BASELINE: Final = 2
"""A sample standard deviation needs two values."""


class Sums(NamedTuple):
    """A pair's running sums over all its days: days, Σ and Σ² of each metric, first and last day."""

    n: int
    duration: int
    duration_squares: int
    packets: int
    packet_squares: int
    first_day: str
    last_day: str


def sums_of(days: Mapping[str, Counts]) -> Sums:
    """The running sums of a pair's daily totals (date -> counts, at least one day)."""
    durations = [counts.duration for counts in days.values()]
    packets = [counts.packets for counts in days.values()]
    return Sums(
        len(days),
        sum(durations),
        sum(d * d for d in durations),
        sum(packets),
        sum(p * p for p in packets),
        min(days),
        max(days),
    )


def _ratio(sigma: float) -> tuple[int, int]:
    """K as an exact ratio of integers (a float is one)."""
    return Fraction(sigma).as_integer_ratio()


def _z_square(total: int, m: int, sum_: int, squares: int) -> tuple[int, int]:
    """z² of `total` against a baseline of m values with sum `sum_` and sum of squares `squares`, as
    (numerator, denominator): with a = m·total - Σ and V = mΣx² - (Σx)², z² = a²(m - 1) / (mV).
    A denominator of 0 means an infinite z (V = 0, a ≠ 0); V = 0 and a = 0 is z = 0."""
    a = m * total - sum_
    spread = m * squares - sum_ * sum_
    if spread == 0:
        return (1, 0) if a else (0, 1)
    return a * a * (m - 1), m * spread


def _reaches(square: tuple[int, int], k: tuple[int, int]) -> bool:
    """|z| >= K, exactly: z² = n/d against K² = p²/q²."""
    (n, d), (p, q) = square, k
    return d == 0 or n * q * q >= p * p * d


@dataclass(frozen=True)
class ZScore:
    """z of one metric: the float rounded once, and its exact square to compare with K."""

    value: float
    square: tuple[int, int]

    def at_least(self, sigma: float) -> bool:
        return _reaches(self.square, _ratio(sigma))


def _z(total: int, m: int, sum_: int, squares: int) -> ZScore:
    square = _z_square(total, m, sum_, squares)
    a = m * total - sum_
    if square[1] == 0:
        return ZScore(math.copysign(math.inf, a), square)
    return ZScore(math.copysign(sqrt_of_ratio(*square), a) if a else 0.0, square)


def _rest(total: Counts, sums: Sums) -> tuple[int, int, int, int, int]:
    """The running sums of the other days: all days' minus this one's."""
    d, p = total.duration, total.packets
    return sums.n - 1, sums.duration - d, sums.duration_squares - d * d, sums.packets - p, sums.packet_squares - p * p


@dataclass(frozen=True)
class Judged:
    """One pair's total on one day against its baseline (the pair's other days)."""

    date: str
    pair: Pair
    total: Counts
    baseline: PairStats
    """mean and sample std of the other days; `count` is the number of baseline days"""
    z_duration: ZScore
    z_packets: ZScore

    @property
    def z(self) -> tuple[float, float]:
        return self.z_duration.value, self.z_packets.value

    def unusual(self, sigma: float) -> bool:
        """At least `sigma` standard deviations from the baseline on either metric (exactly)."""
        return self.z_duration.at_least(sigma) or self.z_packets.at_least(sigma)

    def order(self) -> tuple[float, str, str]:
        """Sort key: the larger |z| first, then SrcIP, DstIP."""
        return (-max(abs(self.z_duration.value), abs(self.z_packets.value)), *self.pair)

    def cells(self) -> tuple[str, ...]:
        b = self.baseline
        return (
            self.date,
            *self.pair,
            str(self.total.duration),
            str(self.total.packets),
            str(b.count),
            repr(b.avg_flow_duration),
            repr(b.std_flow_duration),
            repr(self.z_duration.value),
            repr(b.avg_fwd_pkts),
            repr(b.std_fwd_pkts),
            repr(self.z_packets.value),
        )


def judge(date: str, pair: Pair, total: Counts, sums: Sums) -> Judged | None:
    """The day's total against the pair's other days: `sums` are over all its days, this one included.
    None when fewer than two other days remain (no standard deviation)."""
    m, *rest = _rest(total, sums)
    if m < MIN_BASELINE:
        return None
    return Judged(
        date,
        pair,
        total,
        stats_of_sums([m, *rest]),
        _z(total.duration, m, rest[0], rest[1]),
        _z(total.packets, m, rest[2], rest[3]),
    )


def unusual(day: Iterable[tuple[Pair, Counts, Sums]], date: str, sigma: float, min_days: int) -> list[Judged]:
    """The pairs of one day whose total is at least `sigma` std from a baseline of at least `min_days`
    other days, sorted by the larger |z| (descending), then SrcIP, DstIP."""
    k, least = _ratio(sigma), max(min_days, MIN_BASELINE)
    found = []
    for pair, total, sums in day:
        m, duration, duration_squares, packets, packet_squares = _rest(total, sums)
        # Integers only for the many ordinary pairs; the floats of the few flagged ones are computed after.
        if m >= least and (
            _reaches(_z_square(total.duration, m, duration, duration_squares), k)
            or _reaches(_z_square(total.packets, m, packets, packet_squares), k)
        ):
            found.append(judge(date, pair, total, sums))
    return sorted((j for j in found if j is not None), key=Judged.order)


def unusual_days(pair: Pair, days: Mapping[str, Counts], sigma: float, min_days: int) -> list[Judged]:
    """Export's rule: each of the pair's days against its other days, in date order."""
    if len(days) - 1 < max(min_days, MIN_BASELINE):
        return []
    sums = sums_of(days)
    found = [judge(date, pair, days[date], sums) for date in sorted(days)]
    return [j for j in found if j is not None and j.unusual(sigma)]


NEW_HEADER: Final = ("Date", "SrcIP", "DstIP", "TotalFlowDuration", "TotalFwdPkts", "Flows", "Days", "LastDay")


def first_seen(day: Iterable[tuple[Pair, Counts, Sums]], date: str) -> list[tuple[Pair, Counts, Sums]]:
    """The pairs first seen on `date`, largest flow duration first (then packets, SrcIP, DstIP)."""
    new = [(pair, total, sums) for pair, total, sums in day if sums.first_day == date]
    return sorted(new, key=lambda row: (-row[1].duration, -row[1].packets, *row[0]))


def write_unusual(out: TextIO, judged: Iterable[Judged]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ANOMALY_HEADER)
    writer.writerows(j.cells() for j in judged)


def write_first_seen(out: TextIO, date: str, rows: Iterable[tuple[Pair, Counts, Sums]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NEW_HEADER)
    for pair, total, sums in rows:
        writer.writerow((date, *pair, total.duration, total.packets, total.flows, sums.n, sums.last_day))
