"""The consolidated state: any interleaving of applies, folds and takes, repeated or late, ends exact."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from core.consolidated import (
    PART_COUNT,
    BranchDay,
    DayPart,
    MonthPart,
    StatsPart,
    day_total_in,
    days_of,
    from_months,
    month_of,
    pair_name,
    part_of,
    span_in,
    sqrt_of_ratio,
    stats_of_sums,
    taken_in,
)
from core.counts import Counts
from core.stats import pair_stats

PAIRS = [("10.0.0.1", "8.8.8.8"), ("10.0.0.2", "1.1.1.1"), ("fe80::1", "10.0.0.9"), ("10.0.0.3", "10.0.0.4")]
DAYS = ["2024-01-01", "2024-01-02", "2024-01-05", "2024-02-01"]
BRANCHES = ["north", "south"]

rows = st.lists(
    st.tuples(st.sampled_from(PAIRS), st.integers(0, 10**12), st.integers(0, 10**6), st.integers(1, 50)), max_size=4
)
# An upload: (branch, day, source number, rows). Sources are unique per branch; later uploads of the
# same source are re-uploads (a newer generation) that replace the earlier rows.
uploads = st.lists(st.tuples(st.sampled_from(BRANCHES), st.sampled_from(DAYS), st.integers(0, 2), rows), max_size=12)


@settings(max_examples=150, deadline=None)
@given(uploads, st.randoms(use_true_random=False))
def test_any_interleaving_with_duplicates_and_stale_views_is_exact(history: list, rng) -> None:  # type: ignore[no-untyped-def,type-arg]
    ledgers: dict[tuple[str, str], BranchDay] = {}
    generations: dict[tuple[str, str, int], int] = {}
    snapshots: list[tuple[str, str, int, dict[int, dict[str, Counts]]]] = []
    for branch, day, number, contribution in history:
        source = f"{branch}-{day}-{number}"
        generation = generations[(branch, day, number)] = generations.get((branch, day, number), 0) + 1
        ledger = ledgers.setdefault((day, branch), BranchDay())
        ledger.apply(source, generation, [[s, d, dur, pk, fl] for (s, d), dur, pk, fl in contribution])
        ledger.apply(source, generation - 1, [])  # a late, older generation changes nothing
        snapshots.append((day, branch, ledger.revision, ledger.totals_by_part()))
    # Fold the branch-day revisions in a shuffled order, each twice (late duplicates), then the latest of
    # each; take outboxes at random moments with stale watermarks.
    parts: dict[tuple[str, int], DayPart] = {}
    stats = [StatsPart() for _ in range(PART_COUNT)]
    months: dict[tuple[str, int], MonthPart] = {}
    folds = snapshots + snapshots
    rng.shuffle(folds)
    folds += [(d, b, lg.revision, lg.totals_by_part()) for (d, b), lg in ledgers.items()]
    for day, branch, revision, totals in folds:
        for part in totals:  # as the handler does: only the parts the branch-day ever had rows in
            stale = stats[part].taken.get(day, 0) if rng.random() < 0.5 else 0
            state = parts.setdefault((day, part), DayPart())
            state.fold(branch, revision, totals[part], stale)
            if rng.random() < 0.5:
                stats[part].take(day, state)
            if rng.random() < 0.5:  # a compaction, possibly from a day part older than the month holds
                months.setdefault((month_of(day), part), MonthPart()).set_day(day, DayPart.loads(state.dumps()))
    for (day, part), state in parts.items():
        stats[part].take(day, state)
        stats[part].take(day, state)
        if rng.random() < 0.3:
            months.setdefault((month_of(day), part), MonthPart()).set_day(day, state)

    expected: dict[str, dict[str, Counts]] = {}
    latest: dict[tuple[str, str, int], list] = {}  # type: ignore[type-arg]
    for branch, day, number, contribution in history:
        latest[(branch, day, number)] = [(day, (s, d), Counts(dur, pk, fl)) for (s, d), dur, pk, fl in contribution]
    for entries in latest.values():
        for day, (s, d), counts in entries:
            days = expected.setdefault(pair_name(s, d), {})
            days[day] = days.get(day, Counts()) + counts
    got = {name: sums for part in stats for name, sums in part.pairs.items()}
    assert set(got) == set(expected)
    for name, days in expected.items():
        part = part_of(name)
        assert days_of(name, {day: parts[(day, part)] for day in DAYS if (day, part) in parts}) == days
        for day in DAYS:
            found = parts.get((day, part))
            assert (day_total_in(found.dumps(), name) if found else None) == days.get(day)
        assert span_in(stats[part].dumps(), name) == (got[name][5], got[name][6])
        # What an export reads: the month parts, then the day parts of the days they do not hold as taken.
        bodies = {month: state.dumps() for (month, p), state in months.items() if p == part}
        exported, unread = from_months(name, DAYS, taken_in(stats[part].dumps()), bodies)
        for day in unread:
            total = day_total_in(parts[(day, part)].dumps(), name) if (day, part) in parts else None
            if total is not None:
                exported[day] = total
        assert exported == days
        assert stats_of_sums(got[name]) == pair_stats(days)
        # The span may keep a day the pair has left (it never shrinks), never miss one.
        assert got[name][5] <= min(days) and got[name][6] >= max(days)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**15), min_size=2, max_size=40))
def test_statistics_from_integer_sums_equal_the_statistics_module(values: list[int]) -> None:
    n, total, squares = len(values), sum(values), sum(v * v for v in values)
    assert total / n == statistics.mean(values)
    assert sqrt_of_ratio(n * squares - total * total, n * (n - 1)) == statistics.stdev(values)


def test_sqrt_of_ratio_is_exact_on_squares_and_tiny_values() -> None:
    assert sqrt_of_ratio(49, 4) == 3.5
    assert sqrt_of_ratio(0, 7) == 0.0
    assert sqrt_of_ratio(10**40, 1) == 1e20
    assert sqrt_of_ratio(4, 2) == 2**0.5


def test_a_month_is_due_for_compaction_after_enough_changed_days() -> None:
    stats = StatsPart()
    day = DayPart()
    day.fold("north", 1, {"10.0.0.1,8.8.8.8": Counts(5, 1, 1)}, 0)
    for date in ("2024-01-01", "2024-01-02", "2024-01-02", "2024-02-01"):
        stats.take(date, day)
        day.fold("north", day.revision + 1, {"10.0.0.1,8.8.8.8": Counts(day.revision, 1, 1)}, 0)
    assert stats.due(3) == {}
    assert stats.due(2) == {"2024-01": {"2024-01-01": 1, "2024-01-02": 3}}
    assert stats.due(2) == {}  # counting again from zero
    assert StatsPart.loads(stats.dumps()).uncompacted == {"2024-02": ["2024-02-01"]}


def test_a_month_part_keeps_the_newest_day_part_revision() -> None:
    month = MonthPart()
    older, newer = DayPart(), DayPart()
    older.fold("north", 1, {"10.0.0.1,8.8.8.8": Counts(5, 1, 1), "10.0.0.2,8.8.8.8": Counts(1, 1, 1)}, 0)
    newer.fold("north", 1, {"10.0.0.1,8.8.8.8": Counts(5, 1, 1)}, 0)
    newer.fold("north", 2, {"10.0.0.1,8.8.8.8": Counts(9, 2, 1)}, 0)
    assert month.set_day("2024-01-01", newer) and not month.set_day("2024-01-01", older)
    assert MonthPart.loads(month.dumps()) == MonthPart(
        {"2024-01-01": 2}, {"10.0.0.1,8.8.8.8": {"2024-01-01": [9, 2, 1]}}
    )


def test_an_export_reads_the_day_parts_its_month_part_holds_at_an_older_revision_or_not_at_all() -> None:
    name = "10.0.0.1,8.8.8.8"
    day = DayPart()
    day.fold("north", 1, {name: Counts(5, 1, 1)}, 0)
    month = MonthPart()
    month.set_day("2024-01-01", day)
    month.set_day("2024-01-02", day)
    taken = {"2024-01-01": 2, "2024-01-02": 1}  # day 1 changed after the compaction
    dates = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-02-01"]
    assert from_months(name, dates, taken, {"2024-01": month.dumps(), "2024-02": None}) == (
        {"2024-01-02": Counts(5, 1, 1)},
        ["2024-01-01", "2024-01-03", "2024-02-01"],
    )
