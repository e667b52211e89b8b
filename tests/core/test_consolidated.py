"""The consolidated state's pure parts: tables, deltas, folds and the exact statistics."""

from __future__ import annotations

import copy
import json
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from core.consolidated import (
    BLOCKS,
    FORMAT,
    HEADER_BYTES,
    SHARDS,
    Conflict,
    Delta,
    FileLedger,
    Table,
    block_span,
    bundle,
    day_value,
    deltas_in,
    deltas_of,
    entry_in,
    fold,
    read_header,
    sqrt_of_ratio,
    stats_of_sums,
)
from core.counts import Counts
from core.stats import pair_stats

PAIRS = [("10.0.0.1", "8.8.8.8"), ("10.0.0.2", "1.1.1.1"), ("fe80::1", "10.0.0.9"), ("10.0.0.3", "10.0.0.4")]
DAYS = ["2024-01-01", "2024-01-02", "2024-02-01"]
names = st.text("0123456789abcdef.:,", min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, st.lists(st.integers(0, 10**15), min_size=3, max_size=3), max_size=300), names)
def test_a_table_round_trips_and_one_block_finds_any_entry(entries: dict[str, list[int]], probe: str) -> None:
    table = Table(entries, {"a.0-1": 1.5})
    data = table.dumps()
    assert Table.loads(data) == table
    header, size = read_header(data[:HEADER_BYTES])
    assert size == HEADER_BYTES and len(header["index"]) == BLOCKS + 1
    for name in [*list(entries)[:20], probe]:
        start, end = block_span(header, size, name)
        assert entry_in(data[start:end], name) == entries.get(name)


def test_a_header_larger_than_the_first_read_says_its_size() -> None:
    table = Table({"10.0.0.1,8.8.8.8": [1, 2, 3]}, {f"source{n:040d}.0-1": float(n) for n in range(200)})
    data = table.dumps()
    assert int(data[:8]) > HEADER_BYTES
    assert Table.loads(data) == table


def _rows(pairs: list[tuple[tuple[str, str], int, int]]) -> list[list[object]]:
    return [[src, dst, duration, packets, 1] for (src, dst), duration, packets in pairs]


contribution = st.dictionaries(
    st.sampled_from(DAYS),
    st.lists(st.tuples(st.sampled_from(PAIRS), st.integers(0, 10**12), st.integers(0, 10**6)), max_size=4),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), contribution), min_size=1, max_size=10), st.randoms())
def test_folding_every_transition_in_any_grouping_gives_the_direct_statistics(history, rng) -> None:  # type: ignore[no-untyped-def]
    """Re-uploads become deltas; folding them in batches of any size, some folded twice (a fold that
    crashed after writing a day table, before its stats table), gives each pair's days and the exact
    statistics of its daily totals."""
    ledgers: dict[str, FileLedger] = {}
    files: dict[str, dict[str, list[list[object]]]] = {}
    pending: list[tuple[int, Delta]] = []
    for number, by_day in history:
        source = f"file{number}"
        rows = {date: _rows(pairs) for date, pairs in by_day.items()}
        ledger = ledgers.setdefault(source, FileLedger())
        ledger.advance(ledger.generation + 1, rows)
        pending += ledger.pending_deltas(source).items()
        ledger.previous = None
        files[source] = {date: day for date, day in rows.items() if day}
    stats = {shard: Table() for shard in range(SHARDS)}
    days = {shard: {date: Table() for date in DAYS} for shard in range(SHARDS)}
    while pending:
        size = rng.randint(1, len(pending))
        batch, pending = pending[:size], pending[size:]
        for shard in {shard for shard, _ in batch}:
            deltas = [delta for where, delta in batch if where == shard]
            if rng.random() < 0.3:  # a crashed fold: day tables written, stats table not
                crashed_days = copy.deepcopy(days[shard])
                fold(copy.deepcopy(stats[shard]), crashed_days, deltas, 0.0)
                days[shard] = crashed_days
            fold(stats[shard], days[shard], deltas, 0.0)
    want: dict[tuple[str, str], dict[str, Counts]] = {}
    for by_day in files.values():
        for date, day in by_day.items():
            for src, dst, duration, packets, flows in day:
                totals = want.setdefault((str(src), str(dst)), {})
                totals[date] = totals.get(date, Counts()) + Counts(int(duration), int(packets), int(flows))  # type: ignore[call-overload]
    assert {name: stats_of_sums(sums) for table in stats.values() for name, sums in table.entries.items()} == {
        f"{src},{dst}": pair_stats(totals) for (src, dst), totals in want.items()
    }
    for date in DAYS:
        assert {name: value for tables in days.values() for name, value in tables[date].entries.items()} == {
            f"{src},{dst}": list(totals[date]) for (src, dst), totals in want.items() if date in totals
        }


def test_a_files_transitions_pending_together_give_its_last_generation_in_any_order() -> None:
    """Generations 9 to 12 of one file, their transitions pending together (one listing of a shard; a
    bundle sorts them by id, so 10-11 and 11-12 come before 9-10): a partial sum passes through a day
    total without flows, which must not be dropped before the last change is added."""
    pair, date = PAIRS[0], DAYS[0]
    by_generation = {8: [], 9: [[*pair, 5, 1, 1]], 10: [[*pair, 15, 1, 1]], 11: [], 12: [[*pair, 4, 2, 1]]}
    deltas = [deltas_of("f", g - 1, {date: by_generation[g - 1]}, g, {date: by_generation[g]}) for g in range(9, 13)]
    pending = [delta for shards in deltas for delta in shards.values()]
    name = f"{pair[0]},{pair[1]}"
    for order in (pending, pending[::-1], sorted(pending, key=lambda delta: delta.id)):
        assert day_value(None, name, date, order) == [4, 2, 1]
        assert day_value(None, name, date, deltas_in(bundle(order)[1])) == [4, 2, 1]
        stats, days = Table(), {date: Table()}
        fold(stats, days, order, 0.0)
        assert days[date].entries == {name: [4, 2, 1]}
        assert stats_of_sums(stats.entries[name]) == pair_stats({date: Counts(4, 2, 1)})


def test_a_day_table_holding_a_recent_delta_of_another_fold_is_a_conflict() -> None:
    stats, day = Table(), Table()
    first = deltas_of("a", 0, {}, 1, {DAYS[0]: _rows([(PAIRS[0], 5, 1)])})
    other = deltas_of("b", 0, {}, 1, {DAYS[0]: _rows([(PAIRS[0], 7, 1)])})
    (delta_a,), (delta_b,) = first.values(), other.values()
    fold(Table(), {DAYS[0]: day}, [delta_b], now=100.0)  # a concurrent fold wrote the day table
    try:
        fold(stats, {DAYS[0]: day}, [delta_a], now=200.0)
    except Conflict:
        pass
    else:
        raise AssertionError("a fold must not compute statistics from a day table holding deltas it did not list")
    stale = Table()
    fold(Table(), {DAYS[0]: stale}, [delta_b], now=0.0)
    fold(stats, {DAYS[0]: stale}, [delta_a], now=10_000.0)  # folded long ago: history, not a conflict


def test_a_transition_with_no_change_has_no_delta() -> None:
    rows = {DAYS[0]: _rows([(PAIRS[0], 5, 1), (PAIRS[1], 6, 2)])}
    assert deltas_of("a", 1, rows, 2, rows) == {}
    moved = deltas_of("a", 1, rows, 2, {DAYS[1]: rows[DAYS[0]]})
    assert {date for delta in moved.values() for date in delta.days} == {DAYS[0], DAYS[1]}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**15), min_size=1, max_size=40))
def test_exact_statistics_equal_the_statistics_module(values: list[int]) -> None:
    n, total, squares = len(values), sum(values), sum(v * v for v in values)
    got = stats_of_sums([n, total, squares, total, squares, "", ""])
    assert got.avg_flow_duration == float(statistics.mean(values))
    assert got.std_flow_duration == (float(statistics.stdev(values)) if n > 1 else 0.0)


def test_sqrt_of_ratio_is_exact_on_squares_and_tiny_values() -> None:
    assert sqrt_of_ratio(49, 4) == 3.5
    assert sqrt_of_ratio(0, 7) == 0.0
    assert sqrt_of_ratio(10**40, 1) == 1e20
    assert sqrt_of_ratio(4, 2) == 2**0.5


def test_ledgers_and_deltas_are_gzip_json_and_plain_json_still_reads() -> None:
    rows = {"2024-01-01": [[f"10.0.{n // 250}.{n % 250}", "8.8.8.8", 1000 + n, 3, 1] for n in range(2000)]}
    ledger = FileLedger()
    ledger.advance(1, rows)
    body = ledger.dumps()
    assert body[:2] == b"\x1f\x8b" and body == ledger.dumps()  # gzip, the same bytes each time
    plain = json.dumps({"format": FORMAT, "generation": 1, "rows": ledger.rows, "previous": ledger.previous}).encode()
    assert len(body) * 2 < len(plain)
    assert FileLedger.loads(body) == FileLedger.loads(plain) == ledger  # what stacks wrote before reads too
    delta = next(iter(ledger.pending_deltas("src").values()))
    assert Delta.loads(delta.dumps()) == delta
    assert Delta.loads(json.dumps({"format": FORMAT, "id": delta.id, "days": delta.days}).encode()) == delta
