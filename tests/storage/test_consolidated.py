"""The consolidated state's protocol on moto: any sequence of applies (re-uploads, late and repeated
generations) and folds, with a crash at any AWS call and concurrent folds, reads exactly what a
direct computation from each file's last generation gives: exports, day views, traffic_stats.csv."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import layout
from core.consolidated import SHARDS, Table, deltas_of, pair_name, shard_of
from core.counts import Counts
from core.stats import Days, Pair
from storage import consolidated
from storage.consolidated import REBUILD_GROWTH, State, TickOutcome, expected_stats_text, traffic_stats_text
from storage.store import RETRIES, Store
from tests.conftest import moto_world

PAIRS = [("10.0.0.1", "8.8.8.8"), ("10.0.0.2", "1.1.1.1"), ("fe80::1", "10.0.0.9"), ("10.0.0.3", "10.0.0.4")]
DAYS = ["2024-01-01", "2024-01-02", "2024-02-01"]
rows = st.lists(
    st.tuples(st.sampled_from(DAYS), st.sampled_from(PAIRS), st.integers(0, 10**12), st.integers(0, 10**6)),
    max_size=5,
)
# (a batch of files applied together: {file number: rows}, crash at call k of the apply (0: none),
#  fold: None or (shard or -1 for all, crash at))
steps = st.lists(
    st.tuples(
        st.dictionaries(st.integers(0, 2), rows, min_size=1, max_size=3),
        st.integers(0, 16),
        st.none() | st.tuples(st.integers(-1, SHARDS - 1), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=6,
)


def settle(state: State) -> list[TickOutcome]:
    """Ticks as the consolidator runs them once files stop arriving: a deferred tick schedules the next,
    which finds nothing arrived since and rebuilds traffic_stats.csv."""
    done = [state.tick()]
    while done[-1].reason == "deferred":
        done.append(state.tick(seen=[done[-1].lacking]))
    assert done[-1].reason == "current" or done[-1].rebuilt
    return done


class Crash(BaseException):
    """A process killed between two AWS calls: nothing in the code under test runs after it."""


@pytest.fixture
def store(aws_env: None) -> Iterator[Store]:
    with moto_world():
        yield _new_store()


def _new_store() -> Store:
    s3 = boto3.client("s3", config=RETRIES)
    s3.create_bucket(Bucket="data")
    s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
    store = Store("data", s3)
    store.sleep = lambda _: None
    return store


class CrashAt:
    """Raise Crash at the k-th AWS call made through the store's client (0: never)."""

    def __init__(self, store: Store) -> None:
        self.countdown = 0
        store.s3.meta.events.register("before-call.s3.*", self._call)

    def _call(self, **_: Any) -> None:
        if self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                raise Crash()

    def run(self, at: int, action: Any) -> None:
        """Run `action` crashing at call `at`; then run it again (the redelivery) to the end."""
        self.countdown = at
        with contextlib.suppress(Crash):
            action()
        self.countdown = 0
        action()


def _as_rows(contribution: list[Any]) -> dict[str, list[list[Any]]]:
    by_day: dict[str, list[list[Any]]] = {}
    for date, (src, dst), duration, packets in contribution:
        by_day.setdefault(date, []).append([src, dst, duration, packets, 1])
    return by_day


def expected(files: dict[str, dict[str, list[list[Any]]]]) -> dict[Pair, Days]:
    pairs: dict[Pair, Days] = {}
    for by_day in files.values():
        for date, day in by_day.items():
            for src, dst, duration, packets, flows in day:
                days = pairs.setdefault((src, dst), {})
                days[date] = days.get(date, Counts()) + Counts(duration, packets, flows)
    return pairs


def check_reads(state: State, files: dict[str, dict[str, list[list[Any]]]], *, days: bool = True) -> None:
    want = expected(files)
    for pair in PAIRS:
        assert state.pair_days(*pair) == (want.get(pair) or None), pair
    for date in DAYS if days else ():
        seen = {pair: (total, sums[:5]) for pair, total, sums in state.day_view(date)}
        direct = {}
        for pair, days in want.items():
            if date in days:
                durations = [c.duration for c in days.values()]
                packets = [c.packets for c in days.values()]
                sums = [len(days), sum(durations), sum(d * d for d in durations), sum(packets)]
                direct[pair] = (days[date], [*sums, sum(p * p for p in packets)])
        assert seen == direct, date


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_applies_and_folds_with_crashes_read_exactly(store: Store, history: list[Any]) -> None:
    for key in list(store.keys(layout.CONSOLIDATED_PREFIX)):
        store.delete(key)
    state = State(store)
    crash = CrashAt(store)
    files: dict[str, dict[str, list[list[Any]]]] = {}
    generations: dict[str, int] = {}
    for batch, crash_apply, folding in history:
        applied = []
        for number, contribution in sorted(batch.items()):
            source = f"file{number}"
            generation = generations[source] = generations.get(source, 0) + 1
            by_day = _as_rows(contribution)
            # a re-upload that no longer covers a day removes the file from it (the status's stale dates)
            stale = {date: [] for date in files.get(source, {}) if date not in by_day}
            applied.append((source, generation, {**stale, **by_day}))
            files[source] = by_day
        crash.run(crash_apply, functools.partial(state.apply_all, applied))
        for source, generation, _ in applied:
            state.apply(source, generation - 1, {})  # a late, older generation changes nothing
        if folding is not None:
            shard, crash_fold = folding
            crash.run(crash_fold, state.fold_all if shard < 0 else functools.partial(state.fold, shard))
        check_reads(state, files, days=False)
    check_reads(state, files)
    settle(state)
    assert traffic_stats_text(state) == expected_stats_text(expected(files))
    assert not list(store.keys(layout.PENDING_PREFIX))
    check_reads(state, files)


def test_concurrent_applies_and_folds_converge(store: Store) -> None:
    state = State(store)
    files = {
        f"file{n}": {DAYS[n % 3]: [[*PAIRS[(n + k) % 4], 1000 * n + k, n + k, 1] for k in range(3)]} for n in range(24)
    }
    errors: list[BaseException] = []

    def work(names: list[str]) -> None:
        try:
            for name in names:
                state.apply(name, 1, files[name])
                state.fold(shard_of(pair_name(*PAIRS[int(name[4:]) % 4])))
        except BaseException as exc:  # reported below
            errors.append(exc)

    names = sorted(files)
    threads = [threading.Thread(target=work, args=(names[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    check_reads(state, files)
    settle(state)
    assert traffic_stats_text(state) == expected_stats_text(expected(files))


def test_an_export_reads_blocks_not_tables(store: Store) -> None:
    """With many pairs in a shard, one pair's export reads a header and one block of each table."""
    state = State(store)
    many = {
        f"f{n}": {"2024-03-01": [[f"10.{n}.{k // 250}.{k % 250}", "8.8.8.8", k, 1, 1] for k in range(2000)]}
        for n in range(3)
    }
    for name, by_day in many.items():
        state.apply(name, 1, by_day)
    state.fold_all()
    ranges: list[str] = []
    store.s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: ranges.append(params.get("Range", ""))
    )
    days = state.pair_days("10.0.0.7", "8.8.8.8")
    assert days == {"2024-03-01": Counts(7, 1, 1)}
    assert ranges and all(ranges), "every GET of a table is ranged"
    table = store.get(layout.day_table_key(shard_of("10.0.0.7,8.8.8.8"), "2024-03-01"))
    assert table is not None and len(Table.loads(table.body).entries) > 300


def test_a_late_rewrite_of_a_folded_delta_is_not_folded_twice(store: Store) -> None:
    """An invocation that wrote a transition's deltas again after the fold deleted them (it read the
    ledger before the fold): the stats table remembers the delta, so the next fold only deletes it."""
    state = State(store)
    by_day = {"2024-01-01": [[*PAIRS[0], 5, 2, 1]]}
    state.apply("file0", 1, by_day)
    state.fold_all()
    shard = shard_of(pair_name(*PAIRS[0]))
    from core.consolidated import deltas_of

    delta = deltas_of("file0", 0, {}, 1, by_day)[shard]
    store.put(layout.delta_key(shard, delta.id), delta.dumps())
    assert state.pair_days(*PAIRS[0]) == {"2024-01-01": Counts(5, 2, 1)}
    assert state.fold(shard) == 0
    assert not list(store.keys(layout.pending_prefix(shard)))
    assert state.pair_days(*PAIRS[0]) == {"2024-01-01": Counts(5, 2, 1)}


def test_a_delta_found_pending_again_is_remembered_for_an_hour_from_that_fold(store: Store) -> None:
    """Hours after a transition was folded, two late deliveries of its apply both read the ledger before
    either cleared it: the first one's rewrite is folded (found folded: deleted), the ledger is cleared,
    another fold runs, then the second one's rewrite lands. The stats table must still remember the
    transition then: the fold that found it pending renewed it."""
    now = [1000.0]
    state = State(store, clock=lambda: now[0])
    by_day = {DAYS[0]: [[*PAIRS[0], 5, 2, 1]]}
    state.apply("late", 1, by_day)
    shard = shard_of(pair_name(*PAIRS[0]))
    state.fold(shard)
    rewrite = deltas_of("late", 0, {}, 1, by_day)[shard]
    now[0] += 7200
    store.put(layout.delta_key(shard, rewrite.id, rewrite.rows), rewrite.dumps())  # the first late delivery
    assert state.fold(shard) == 0
    now[0] += 600
    other = [
        row
        for row in ([f"10.9.0.{n}", "8.8.8.8", n, 1, 1] for n in range(200))
        if shard_of(pair_name(*row[:2])) == shard
    ]
    state.apply("other", 1, {DAYS[0]: other[:1]})
    assert state.fold(shard) == 1  # a fold that does not find it pending
    store.put(layout.delta_key(shard, rewrite.id, rewrite.rows), rewrite.dumps())  # the second, 10 minutes later
    assert state.fold(shard) == 0
    assert state.pair_days(*PAIRS[0]) == {DAYS[0]: Counts(5, 2, 1)}


def test_a_batch_writes_one_object_per_shard_for_all_its_files(store: Store) -> None:
    """Ten files of 64 pairs each, consolidated together: one pending object per shard, not one per file
    and shard (the PUT-class requests are most of a consolidation's bill, docs/cost.md)."""
    state = State(store)
    files = {
        f"file{n}": {DAYS[n % 2]: [[f"10.0.{n}.{k}", "8.8.8.8", k + 1, 1, 1] for k in range(64)]} for n in range(10)
    }
    puts: list[str] = []
    store.s3.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: puts.append(params["Key"]))
    state.apply_all([(name, 1, by_day) for name, by_day in files.items()])
    pending = [key for key in puts if key.startswith(layout.PENDING_PREFIX)]
    assert len(pending) == len({layout.shard_of_key(key) for key in pending}) == SHARDS
    assert all("/bundle-" in key for key in pending)
    assert len([key for key in puts if key.startswith(layout.FILES_PREFIX)]) == 2 * len(files)  # commit, then clear
    check_reads(state, files)
    settle(state)
    assert traffic_stats_text(state) == expected_stats_text(expected(files))


def test_a_transition_retried_in_another_batch_counts_once(store: Store) -> None:
    """A batch that crashed after writing some of its objects leaves a file's transition committed; its
    retry comes in another batch, so the transition's delta is in two objects of different names. Reads,
    folds and traffic_stats.csv take it once."""
    state = State(store)
    files = {name: {DAYS[0]: [[*PAIRS[n], 10 * (n + 1), n + 1, 1] for n in range(4)]} for name in ("a", "b", "c")}
    crash = CrashAt(store)
    crash.countdown = 6  # 2 ledger GETs, 2 commits, then the pending objects: the process dies at the second
    with contextlib.suppress(Crash):
        state.apply_all([("a", 1, files["a"]), ("b", 1, files["b"])])
    crash.countdown = 0
    first = set(store.keys(layout.PENDING_PREFIX))
    assert first and all("/bundle-" in key for key in first)
    state.apply_all([("a", 1, files["a"]), ("c", 1, files["c"])])  # a's retry, batched with another file
    assert set(store.keys(layout.PENDING_PREFIX)) - first, "the retry wrote objects of other names"
    state.apply_all([("b", 1, files["b"])])  # b's retry, alone
    check_reads(state, files)
    state.fold_all()
    check_reads(state, files)
    settle(state)
    assert traffic_stats_text(state) == expected_stats_text(expected(files))


def test_a_file_applied_while_a_tick_runs_schedules_the_next_one(store: Store) -> None:
    """The tick clears the schedule before it folds: a file applied once it has started (its deltas
    possibly written after the tick listed them) schedules its own tick instead of waiting for the
    next file."""
    state = State(store, clock=lambda: 1000.0)
    sent: list[tuple[dict[str, Any], int]] = []

    def send(message: dict[str, Any], delay: int) -> None:
        sent.append((message, delay))

    state.apply("a", 1, {DAYS[0]: [[*PAIRS[0], 10, 1, 1]]})
    assert state.schedule_tick(send, 300) and sent == [({"tick": 1300.0}, 300)]
    state.apply("b", 1, {DAYS[0]: [[*PAIRS[1], 20, 2, 1]]})
    assert not state.schedule_tick(send, 300)  # a tick is due: b is folded by it
    assert state.tick().rebuilt  # delivered early (a scaled clock, an early delivery): its due time has not come
    assert state.traffic_stats_current()
    state.apply("c", 1, {DAYS[0]: [[*PAIRS[2], 30, 3, 1]]})
    assert state.schedule_tick(send, 300) and len(sent) == 2
    settle(state)
    assert traffic_stats_text(state).count("\n") == 4  # header and three pairs


def test_a_retry_long_after_its_deltas_were_folded_counts_them_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An apply killed after writing its deltas but before its ledger recorded that: a fold takes the
    deltas meanwhile, and the retry (a DLQ redrive, a re-upload) comes hours later, after the tables'
    hour of memory. The stats table keeps the transition while the ledger still names it, so the
    deltas the retry writes again are not folded twice, nor read twice by an export."""
    now = [1000.0]
    state = State(store, clock=lambda: now[0])
    shard = shard_of(pair_name(*PAIRS[0]))
    neighbours = [
        pair for n in range(4096) if shard_of(pair_name(*(pair := (f"10.9.{n // 256}.{n % 256}", "8.8.8.8")))) == shard
    ]
    files = {"late": {DAYS[0]: [[*PAIRS[0], 10, 1, 1]]}}
    ledger_writes = store.update

    def killed_at_the_ledger(key: str, *args: Any, **kwargs: Any) -> Any:
        if key.startswith(layout.FILES_PREFIX):
            raise Crash()
        return ledger_writes(key, *args, **kwargs)

    monkeypatch.setattr(store, "update", killed_at_the_ledger)
    with pytest.raises(Crash):
        state.apply("late", 1, files["late"])
    monkeypatch.undo()
    settle(state)  # folds the deltas and deletes their objects
    for n, pair in enumerate(neighbours[:2]):  # later folds of the same shard, hours apart, forget what they may
        now[0] += 3 * 3600
        files[f"other{n}"] = {DAYS[1]: [[*pair, 5, 1, 1]]}
        state.apply(f"other{n}", 1, files[f"other{n}"])
        settle(state)
    state.apply("late", 1, files["late"])  # the retry: the ledger still has the previous rows
    assert state.pair_days(*PAIRS[0]) == {DAYS[0]: Counts(10, 1, 1)}  # the rewritten deltas are not pending
    settle(state)
    assert state.pair_days(*PAIRS[0]) == {DAYS[0]: Counts(10, 1, 1)}
    assert traffic_stats_text(state) == expected_stats_text(expected(files))
    now[0] += 3 * 3600
    files["other9"] = {DAYS[1]: [[*neighbours[2], 5, 1, 1]]}
    state.apply("other9", 1, files["other9"])
    settle(state)  # the ledger is clear now: the stats table may forget the transition
    stats = Table.loads(store.get(layout.stats_table_key(shard)).body)  # type: ignore[union-attr]
    assert not any(identity.startswith("late.") for identity in stats.folded)


def test_the_tick_rebuilds_traffic_stats_when_what_it_lacks_is_worth_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild costs the population: the tick takes it when the (day, pair) changes traffic_stats.csv
    lacks (pending, or folded since its rebuild: counted the same either way) reach 1/REBUILD_GROWTH of
    the pairs, when nothing arrived since the previous tick, or when it is max_age old; otherwise it
    defers. Whatever it decides, every export stays exact."""
    monkeypatch.setattr(consolidated, "SMALL_TABLES", 0)  # this state is small: defer as if it were not
    now = [1000.0]
    state = State(store, clock=lambda: now[0])
    population = {
        f"p{n}": {DAYS[0]: [[f"10.1.{k // 250}.{k % 250}", f"8.8.{n}.8", k, 1, 1] for k in range(500)]}
        for n in range(2)
    }
    for name, by_day in population.items():
        state.apply(name, 1, by_day)
    assert settle(state)[-1].rebuilt and state.traffic_stats_current()
    assert state.tick().reason == "current"

    small = {DAYS[1]: [["10.1.0.1", "8.8.0.8", 7, 1, 1]]}
    state.apply("small", 1, small)
    first = state.tick()
    assert first.reason == "deferred" and first.lacking == 1  # one (day, pair) changed, named by its delta's key
    assert [layout.delta_rows_of(key) for key in store.keys(layout.PENDING_PREFIX)] == [1]
    assert not state.traffic_stats_current()
    assert state.pair_days("10.1.0.1", "8.8.0.8") == {DAYS[0]: Counts(1, 1, 1), DAYS[1]: Counts(7, 1, 1)}
    state.fold_all()  # a consolidation's fold moves the change from pending to the stats table's count
    assert not state.pending_rows()
    again = state.tick(seen=[first.lacking + 1])
    assert again.reason == "deferred" and again.lacking == first.lacking
    assert state.tick(seen=[again.lacking]).reason == "no file arrived since the previous tick"
    assert state.traffic_stats_current()

    state.apply("small", 2, {DAYS[1]: [["10.1.0.1", "8.8.0.8", 9, 1, 1]]})
    assert state.tick().reason == "deferred"
    now[0] += 3600
    assert state.tick(max_age=3600).reason == "the last rebuild is 3600 s old"

    big = {DAYS[2]: [[f"10.2.{k // 250}.{k % 250}", "9.9.9.9", k, 1, 1] for k in range(600)]}
    state.apply("big", 1, big)
    grown = state.tick()
    assert grown.lacking == 600 and grown.lacking * REBUILD_GROWTH >= 1000 and "reached" in grown.reason
    files = {**population, "small": {DAYS[1]: [["10.1.0.1", "8.8.0.8", 9, 1, 1]]}, "big": big}
    assert traffic_stats_text(state) == expected_stats_text(expected(files))


def test_a_delta_under_both_key_forms_counts_once(store: Store) -> None:
    """An apply by an earlier version wrote `<id>.json`; its retry by this one writes `<id>.n<rows>.json`:
    one transition, read once by exports and folded once."""
    state = State(store)
    by_day = {"2024-01-01": [[*PAIRS[0], 5, 2, 1]]}
    state.apply("file0", 1, by_day)
    shard = shard_of(pair_name(*PAIRS[0]))
    from core.consolidated import deltas_of

    delta = deltas_of("file0", 0, {}, 1, by_day)[shard]
    store.put(layout.delta_key(shard, delta.id), delta.dumps())  # the earlier version's key
    assert len(list(store.keys(layout.pending_prefix(shard)))) == 2
    assert state.pair_days(*PAIRS[0]) == {"2024-01-01": Counts(5, 2, 1)}
    assert state.fold(shard) == 1
    assert not list(store.keys(layout.pending_prefix(shard)))
    assert state.pair_days(*PAIRS[0]) == {"2024-01-01": Counts(5, 2, 1)}
    assert settle(state)[-1].rebuilt
    assert traffic_stats_text(state) == expected_stats_text(expected({"file0": by_day}))


def test_a_stats_table_written_without_its_count_makes_the_tick_rebuild(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stats table whose folded-rows count went back (an earlier version wrote it, during a deploy)
    cannot tell what traffic_stats.csv lacks: the tick rebuilds rather than call it current."""
    monkeypatch.setattr(consolidated, "SMALL_TABLES", 0)
    state = State(store)
    state.apply("file0", 1, {DAYS[0]: [[*PAIRS[0], 5, 2, 1]]})
    assert settle(state)[-1].rebuilt and state.tick().reason == "current"
    key = layout.stats_table_key(shard_of(pair_name(*PAIRS[0])))
    store.put(key, store.get(key).body)  # type: ignore[union-attr]
    assert state.tick().reason == "traffic_stats.csv was not built from stats tables that count their changes"
