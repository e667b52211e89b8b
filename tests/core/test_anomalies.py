"""core.anomalies against an independent leave-one-out computation: the other days' values with
`statistics` for the baseline, exact fractions (two-pass variance) for z and for the flag."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from core.anomalies import judge, sums_of, unusual, unusual_days
from core.counts import Counts
from core.stats import pair_stats

PAIR = ("10.0.0.1", "10.0.0.2")
values = st.integers(min_value=0, max_value=10**13) | st.integers(min_value=0, max_value=5)
histories = st.lists(st.tuples(values, values), min_size=1, max_size=25)
SIGMAS = (1.5, 2, 2.5, 3, 4)


def dated(history: list[tuple[int, int]]) -> dict[str, Counts]:
    return {f"2024-{1 + n // 28:02d}-{1 + n % 28:02d}": Counts(d, p, 1) for n, (d, p) in enumerate(history)}


def exact_z_square(total: int, others: list[int]) -> tuple[Fraction, Fraction]:
    """(total - mean)² and the sample variance of `others`, as exact fractions, from two passes."""
    mean = Fraction(sum(others), len(others))
    variance = sum((Fraction(x) - mean) ** 2 for x in others) / (len(others) - 1)
    return (total - mean) ** 2, variance


def correctly_rounded_z(z: float, total: int, others: list[int]) -> bool:
    deviation, variance = exact_z_square(total, others)
    if variance == 0:
        return z == (0.0 if deviation == 0 else math.copysign(math.inf, total - statistics.mean(others)))
    if deviation == 0:
        return z == 0.0
    if (z > 0) != (total > Fraction(sum(others), len(others))):
        return False
    square, magnitude = deviation / variance, abs(z)
    low = (Fraction(magnitude) + Fraction(math.nextafter(magnitude, 0))) / 2
    high = (Fraction(magnitude) + Fraction(math.nextafter(magnitude, math.inf))) / 2
    return low * low <= square <= high * high


def independently_unusual(total: Counts, others: list[Counts], sigma: float) -> bool:
    k = Fraction(sigma)
    for metric in (lambda c: c.duration, lambda c: c.packets):
        deviation, variance = exact_z_square(metric(total), [metric(c) for c in others])
        if (variance == 0 and deviation != 0) or (variance != 0 and deviation >= k * k * variance):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(histories)
def test_each_day_against_its_other_days(history: list[tuple[int, int]]) -> None:
    days = dated(history)
    sums = sums_of(days)
    for date, total in days.items():
        others = [counts for other, counts in days.items() if other != date]
        judged = judge(date, PAIR, total, sums)
        if len(others) < 2:
            assert judged is None
            continue
        assert judged is not None
        assert judged.baseline == pair_stats({d: c for d, c in days.items() if d != date})
        durations, packets = [c.duration for c in others], [c.packets for c in others]
        assert judged.baseline.avg_flow_duration == statistics.mean(durations)
        assert judged.baseline.std_fwd_pkts == statistics.stdev(packets)
        assert correctly_rounded_z(judged.z[0], total.duration, durations)
        assert correctly_rounded_z(judged.z[1], total.packets, packets)
        if judged.baseline.std_flow_duration > 0:
            expected = (total.duration - statistics.mean(durations)) / statistics.stdev(durations)
            assert math.isclose(judged.z[0], expected, rel_tol=1e-9, abs_tol=1e-9)
        for sigma in SIGMAS:
            assert judged.unusual(sigma) == independently_unusual(total, others, sigma)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(histories, min_size=1, max_size=8),
    st.sampled_from(SIGMAS),
    st.integers(min_value=2, max_value=10),
)
def test_one_day_across_pairs_flags_and_sorts_as_the_independent_rule(
    pairs: list[list[tuple[int, int]]], sigma: float, min_days: int
) -> None:
    view = []
    expected = []
    date = "2024-01-01"
    for n, history in enumerate(pairs):
        pair = (f"10.0.0.{n % 3}", f"10.0.{n}.9")
        days = dated(history)
        view.append((pair, days[date], sums_of(days)))
        others = [c for d, c in days.items() if d != date]
        if len(others) >= min_days and independently_unusual(days[date], others, sigma):
            expected.append(pair)
    found = unusual(view, date, sigma, min_days)
    assert sorted(j.pair for j in found) == sorted(expected)
    keys = [(-max(abs(j.z[0]), abs(j.z[1])), *j.pair) for j in found]
    assert keys == sorted(keys)


def test_a_spike_on_five_days_is_found_though_a_whole_history_z_cannot_reach_2() -> None:
    days = dated([(100, 10), (102, 11), (98, 10), (101, 9), (400, 10)])
    stats = pair_stats(days)
    whole = (400 - stats.avg_flow_duration) / stats.std_flow_duration
    assert whole < (5 - 1) / math.sqrt(5) < 2
    found = unusual_days(PAIR, days, sigma=3, min_days=4)
    assert [j.date for j in found] == [max(days)] and found[0].z[0] > 100
    assert unusual_days(PAIR, days, sigma=3, min_days=5) == []


def test_a_flat_baseline_gives_inf_for_a_different_total_and_0_for_an_equal_one() -> None:
    days = dated([(50, 7), (50, 7), (50, 7), (20, 7)])
    high, low = (
        judge(max(days), PAIR, days[max(days)], sums_of(days)),
        judge(min(days), PAIR, days[min(days)], sums_of(days)),
    )
    assert high is not None and high.z == (-math.inf, 0.0) and high.unusual(100)
    assert low is not None and low.z[1] == 0.0
    assert [cell for cell in high.cells()[8::3]] == ["-inf", "0.0"]
