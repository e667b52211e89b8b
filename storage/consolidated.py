"""The consolidated state's protocol: apply a file, fold a shard, rebuild traffic_stats.csv, read a pair
or a day. Used by the consolidate handler, `clients.export`, `clients.anomalies` and `clients.rebuild`.
The objects and the pure arithmetic are in core.consolidated; README, "The consolidated state", is the
one description of the protocol.

1. **Apply** (per batch of files, cost of the files): each file's ledger is advanced to the published
   generation with a compare-and-swap that keeps the previous rows (the commit point); the deltas of
   all the batch's transitions are written, one object per shard (each delta keeps its transition's
   id and its content is determined by the ledger, so a transition written again, in any object, is
   taken once); then each ledger forgets the previous rows. A retry finds `previous` set and writes
   that transition's deltas again before anything else.
2. **Fold** (per shard, amortised): list the shard's pending objects, read the stats table, fold the
   deltas it has not folded into each day table they touch (each day table records the deltas it
   holds, so a repeated fold adds nothing twice), then write the stats table with the deltas recorded
   (compare-and-swap on the version read: a concurrent fold makes this one start again), then delete
   the pending objects. The stats table forgets a folded delta an hour after the last fold that found
   it pending, unless its file's ledger still names that transition as unwritten (a retry would write it
   again). Writing a pending object folds its shard with a chance proportional to the object's size
   over the shard's stats table's size, picked by a hash (FOLD_GROWTH), and a scheduled tick folds
   every shard.
3. **Tick** (debounced): after applying files, the consolidator schedules one delayed "tick" message
   on its own queue unless one is due; the tick clears the schedule and measures what traffic_stats.csv
   lacks ((day, pair) changes of deltas pending or folded since its rebuild). It rebuilds it (folding
   every shard, then writing the stats tables out one shard at a time, merged in order through
   temporary files) when that reaches 1/REBUILD_GROWTH of the pairs, when nothing changed since the previous
   tick (arrivals paused), or when it is older than the maximum age; otherwise it schedules the next
   tick. So a rebuild, whose cost is the population, is shared by files in proportion to the population.
4. **Read**: a pair is read from its shard's stats table (one block), its day tables (one block each)
   and the shard's pending deltas those tables have not folded; a day from every shard's tables and
   pending deltas, folded in memory.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import heapq
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from core import layout
from core.consolidated import (
    HEADER_BYTES,
    SHARDS,
    Conflict,
    Delta,
    FileLedger,
    SourceRow,
    Sums,
    Table,
    batch_of,
    block_span,
    bundle,
    dates_of,
    day_value,
    deltas_in,
    entry_in,
    fold,
    fold_day,
    fold_stats,
    folds_shard,
    forget,
    header_size,
    pair_name,
    pair_of,
    pending_days,
    read_header,
    shard_of,
    stats_of_sums,
    transition_of,
    unwritten_transition,
)
from core.counts import Counts
from core.stats import STATS_HEADER, Days, Pair
from core.status import FileStatus
from core.summary import read_summary
from storage.store import Blob, Contention, Store, backoff

PARALLEL_REQUESTS = 16
UNWRITTEN = "unwritten-transition"
"""Metadata of a file ledger: the "a-b" of its committed transition whose deltas may not all be written."""
FOLD_ATTEMPTS = 6
FOLDED_ROWS = "folded-rows"
"""Metadata of a stats table: the (day, pair) changes of every delta it has folded, ever."""
PAIRS = "pairs"
"""Metadata of a stats table: the pairs it holds."""
BUILT_FROM = "folded-rows"
"""Metadata of traffic_stats.csv: the stats tables' FOLDED_ROWS it was built from, shard by shard."""
BYTES_PER_PAIR = 90
"""A stats table's size per pair (docs/benchmarks.md: 181 MB for 2M pairs): the pairs of a table written
before its metadata named them are estimated from its size."""
BYTES_PER_ROW = 21
"""A delta row's size, gzip-compressed, on random addresses: the rows of a delta whose key does not name
them (written before keys did) are estimated from its size."""
BUILT_AT = "built-at"
"""Metadata of traffic_stats.csv: when it was built (seconds since the epoch)."""
REBUILD_GROWTH = 2
"""The tick rebuilds traffic_stats.csv once the (day, pair) changes it lacks reach 1/REBUILD_GROWTH of the
pairs: a rebuild's cost is the pairs, so each change pays for REBUILD_GROWTH pairs' worth of rebuild,
whatever the population (docs/benchmarks.md, "Consolidation")."""
SMALL_TABLES = 4 << 20
"""Below this size of all stats tables together (≈ 45,000 pairs) a rebuild costs too little to defer
(≈ 10 MB of S3 traffic and 3 s of CPU): traffic_stats.csv then follows every tick."""
DEFAULT_MAX_AGE_SECONDS = 6 * 3600
"""How old traffic_stats.csv may grow while files keep arriving (config statsMaxAgeSeconds)."""
T = TypeVar("T")
R = TypeVar("R")
Written = tuple[Table, str, int]
"""A stats table as written or read: the table, its ETag and its FOLDED_ROWS."""


class NotVisibleYet(Exception):
    """An object the protocol says exists answered 404: S3 can do that for a while after versioning
    is first enabled on a bucket. The record fails and is retried (then the DLQ), never skipped."""


@dataclass(frozen=True)
class TickOutcome:
    """What a tick did: `reason` says why traffic_stats.csv was rebuilt, or "current" or "deferred" (not
    rebuilt); `pairs` how many it holds then; `lacking` the (day, pair) changes it lacked."""

    reason: str
    lacking: int
    pairs: int = 0

    @property
    def rebuilt(self) -> bool:
        return self.reason not in ("current", "deferred")


@dataclass(frozen=True)
class Source:
    """A file's published generation as read from summaries/: its rows for every day it touches
    (an empty list for a day an earlier generation covered and this one does not)."""

    status: FileStatus
    rows: dict[str, list[SourceRow]]


def read_generation(store: Store, status: FileStatus) -> Source | None:
    """The summaries of the status's generation, or None if any of them has moved on to a newer one.
    A summary missing while the status still says it is published is not visible yet: NotVisibleYet."""
    rows: dict[str, list[SourceRow]] = {date: [] for date in status.stale_dates}
    for date in status.dates:
        found = store.get(layout.summary_key(date, status.source))
        if found is None:
            now = store.load_status(status.key)
            if now is not None and now.generation == status.generation and now.published:
                raise NotVisibleYet(f"{status.key}: summary of {date} (generation {status.generation}) answered 404")
            return None
        if found.metadata.get(layout.GENERATION) != str(status.generation):
            return None
        totals = read_summary(found.body.decode().splitlines())
        rows[date] = [[key.src, key.dst, *counts] for key, counts in sorted(totals.items())]
    return Source(status, rows)


def parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        return list(pool.map(function, items))


class State:
    """The consolidated state of one bucket."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # 1. Apply ------------------------------------------------------------------------------------

    def apply(self, source: str, generation: int, rows: Mapping[str, Sequence[SourceRow]]) -> set[int]:
        """Make `rows` (day -> rows; an empty day removes the file from it) the file's contribution at
        `generation`, unless the ledger has that generation or a newer one (`apply_all` of one file)."""
        return self.apply_all([(source, generation, rows)])

    def apply_all(self, files: Sequence[tuple[str, int, Mapping[str, Sequence[SourceRow]]]]) -> set[int]:
        """`apply` each (source, generation, rows), writing the deltas of all their transitions in one
        object per shard. Returns the shards whose fold these writes picked."""
        wanted: dict[str, tuple[int, Mapping[str, Sequence[SourceRow]]]] = {}
        for source, generation, rows in files:  # a source named twice: its newer generation
            if source not in wanted or generation > wanted[source][0]:
                wanted[source] = (generation, rows)
        picked: set[int] = set()
        for _ in range(2 * FOLD_ATTEMPTS):
            sources = list(wanted)
            found = parallel(lambda source: self.store.get(layout.file_ledger_key(source)), sources)
            committed: dict[str, FileLedger] = {}
            advancing: list[tuple[str, Blob | None, FileLedger]] = []
            for source, current in zip(sources, found, strict=True):
                ledger = FileLedger.loads(current.body) if current is not None else FileLedger()
                if ledger.previous is not None:
                    committed[source] = ledger  # a committed transition whose deltas may not all be written
                elif ledger.generation < wanted[source][0]:
                    advancing.append((source, current, ledger))
                else:
                    del wanted[source]  # applied already
            advanced = parallel(lambda item: self._commit(*item, *wanted[item[0]]), advancing)
            committed |= {item[0]: ledger for item, ledger in zip(advancing, advanced, strict=True) if ledger}
            if committed:
                picked |= self._write_deltas(committed)
            for source, ledger in committed.items():
                if ledger.generation >= wanted[source][0]:
                    del wanted[source]
            if not wanted:
                return picked
        raise Contention(f"could not apply {', '.join(sorted(wanted))}")

    def _commit(
        self,
        source: str,
        current: Blob | None,
        ledger: FileLedger,
        generation: int,
        rows: Mapping[str, Sequence[SourceRow]],
    ) -> FileLedger | None:
        """The commit point of a file's transition: its ledger advanced, keeping the previous rows, with
        a compare-and-swap on the version read (None: it changed meanwhile; read it again)."""
        ledger.advance(generation, rows)
        marked = Blob(ledger.dumps(), metadata={UNWRITTEN: unwritten_transition(ledger)})
        etag = self.store.put_if(layout.file_ledger_key(source), marked, current.etag if current else None)
        return ledger if etag is not None else None

    def _write_deltas(self, committed: Mapping[str, FileLedger]) -> set[int]:
        """Write the committed transitions' deltas, one object per shard for all of them, then let each
        ledger forget its previous rows."""
        by_shard: dict[int, list[Delta]] = {}
        for source, ledger in committed.items():
            for shard, delta in ledger.pending_deltas(source).items():
                by_shard.setdefault(shard, []).append(delta)
        objects = {shard: bundle(deltas) for shard, deltas in by_shard.items()}
        rows = {shard: sum(delta.rows for delta in deltas) for shard, deltas in by_shard.items()}
        parallel(
            lambda shard: self.store.put(layout.delta_key(shard, objects[shard][0], rows[shard]), objects[shard][1]),
            list(by_shard),
        )
        parallel(lambda item: self._written(*item), list(committed.items()))
        tables = parallel(lambda shard: self.store.head(layout.stats_table_key(shard)), list(by_shard))
        return {
            shard
            for shard, table in zip(by_shard, tables, strict=True)
            if folds_shard(objects[shard][0], shard, len(objects[shard][1]), table.size if table is not None else 0)
        }

    def _written(self, source: str, ledger: FileLedger) -> None:
        """The ledger forgets the previous rows of the transition whose deltas are all written."""
        generation, before = ledger.generation, ledger.previous["generation"] if ledger.previous else 0

        def written(current: Blob | None) -> Blob | None:
            if current is None:
                return None
            state = FileLedger.loads(current.body)
            if state.previous is None or state.generation != generation or state.previous["generation"] != before:
                return None
            state.previous = None
            return Blob(state.dumps())

        self.store.update(layout.file_ledger_key(source), written)

    # 2. Fold -------------------------------------------------------------------------------------

    def pending(self, shard: int) -> list[str]:
        """The keys of the shard's pending delta objects."""
        return list(self.store.keys(layout.pending_prefix(shard)))

    def pending_rows(self) -> dict[int, dict[str, int]]:
        """Every shard's pending delta objects and the (day, pair) changes each holds, by shard, from one
        listing of pending/ (the keys name them; estimated from the size for a key that does not)."""
        found: dict[int, dict[str, int]] = {}
        for key, size in self.store.sizes(layout.PENDING_PREFIX):
            rows = layout.delta_rows_of(key)
            found.setdefault(layout.shard_of_key(key), {})[key] = rows if rows is not None else size // BYTES_PER_ROW
        return found

    def _deltas(self, keys: Sequence[str]) -> list[Delta]:
        """The deltas of the pending objects still there (a concurrent fold may have deleted some since
        they were listed), each transition once: a transition's delta may be in two objects (written
        again by a retry, in another batch or under an earlier version's key form)."""
        return list(self._read_pending(keys)[0].values())

    def _read_pending(self, keys: Sequence[str]) -> tuple[dict[str, Delta], bool]:
        """The deltas of these pending objects by transition id (each once, whichever objects hold it),
        and whether every object was still there."""
        blobs = parallel(self.store.get, keys)
        found = {delta.id: delta for blob in blobs if blob is not None for delta in deltas_in(blob.body)}
        return found, all(blob is not None for blob in blobs)

    def fold(self, shard: int) -> int:
        """Fold the shard's pending deltas into its tables; returns how many were folded."""
        return self._fold(shard)[0]

    def fold_unless_busy(self, shard: int) -> int | None:
        """One attempt at folding the shard, as an apply does after writing its deltas: None when a
        concurrent fold won (it made progress; what it left pending stays exact for every reader and the
        tick folds it). Concurrent consolidations then never wait for each other's folds."""
        try:
            done = self._fold_once(shard, self.pending(shard))
        except Conflict:
            return None
        return done[0] if done is not None else None

    def _fold(self, shard: int, listed: list[str] | None = None) -> tuple[int, Written | None]:
        """Fold the shard: how many deltas were folded, and the stats table written with its ETag and
        FOLDED_ROWS (None when nothing was pending). `listed`: its pending keys, listed already (a retry
        lists again)."""
        for attempt in range(FOLD_ATTEMPTS):
            try:
                done = self._fold_once(shard, self.pending(shard) if listed is None or attempt else listed)
            except Conflict:
                done = None
            if done is not None:
                return done
            self.store.sleep(backoff(attempt + 3))
        raise Contention(f"shard {shard}: {FOLD_ATTEMPTS} folds in a row lost to concurrent folds")

    def _fold_once(self, shard: int, keys: list[str]) -> tuple[int, Written | None] | None:
        if not keys:
            return 0, None
        stats_key = layout.stats_table_key(shard)
        found = self.store.get(stats_key)
        stats = Table.loads(found.body) if found is not None else Table()
        known = set(stats.folded)
        pending, complete = self._read_pending(keys)
        if not complete:
            return None  # a concurrent fold deleted some of them: start again
        listed = list(pending)
        batch = batch_of(stats, pending.values())
        counter = _folded_rows(found) + sum(delta.rows for delta in batch)
        now = self.clock()
        for date in dates_of(batch):
            changes: dict[str, list[int]] = {}

            def folded(current: Blob | None, date: str = date, changes: dict[str, list[int]] = changes) -> Blob:
                table = Table.loads(current.body) if current is not None else Table()
                changes.clear()
                changes.update(fold_day(table, date, batch, known, now))
                forget(table, listed, now)
                return Blob(table.dumps())

            self.store.update(layout.day_table_key(shard, date), folded)
            fold_stats(stats, date, changes)
        for identity in listed:  # folded now or before: remembered for an hour from this fold that saw it
            stats.folded[identity] = now
        forget(stats, listed, now, functools.cache(self._may_be_written_again))
        body = Blob(stats.dumps(), metadata={FOLDED_ROWS: str(counter), PAIRS: str(len(stats.entries))})
        etag = self.store.put_if(stats_key, body, found.etag if found is not None else None)
        if etag is None:
            return None
        self.store.delete_keys(keys)
        return len(batch), (stats, etag, counter)

    def _may_be_written_again(self, identity: str) -> bool:
        """Whether the delta's transition is still the unwritten one of its file's ledger (a HEAD): a
        retry of that apply writes its deltas again, however late it comes (a DLQ redrive, a
        re-upload), so the stats table must remember having folded it until the ledger is clear."""
        source, transition = transition_of(identity)
        ledger = self.store.head(layout.file_ledger_key(source))
        return ledger is not None and ledger.metadata.get(UNWRITTEN) == transition

    def fold_all(self) -> int:
        """Fold every shard, one at a time: one shard's tables in memory at once, whatever the population."""
        return sum(self.fold(shard) for shard in range(SHARDS))

    # 3. Tick -------------------------------------------------------------------------------------

    def schedule_tick(self, send: Callable[[dict[str, Any], int], None], delay: int, seen: int | None = None) -> bool:
        """Schedule one tick `delay` seconds from now, unless one is due already (consolidated/tick.json
        says when). The message is sent before the schedule is written: a failure in between leaves at
        worst a second tick (it finds traffic_stats.csv current or defers again), never a schedule
        without its message. `seen`: what the deferring tick found lacking, for the next one to tell
        whether anything arrived since."""
        now = self.clock()
        current = self.store.get(layout.TICK_KEY)
        if current is not None and json.loads(current.body)["due"] > now:
            return False
        due = now + delay
        send({"tick": due} if seen is None else {"tick": due, "seen": seen}, min(delay, 900))
        self.store.put_if(
            layout.TICK_KEY, Blob(json.dumps({"due": due}).encode()), current.etag if current is not None else None
        )
        return True

    def tick(self, seen: Iterable[int] = (), max_age: float = DEFAULT_MAX_AGE_SECONDS) -> TickOutcome:
        """Clear the schedule, then rebuild traffic_stats.csv (folding every shard first) if it lacks
        enough: (day, pair) changes of at least 1/REBUILD_GROWTH of the pairs (whatever they lack when
        the tables are under SMALL_TABLES), or anything when nothing
        arrived since the previous tick (it lacked as much: `seen`) or when it is `max_age` seconds old.
        Otherwise the outcome is "deferred" and the caller schedules the next tick. The schedule is
        cleared first: a file applied after that schedules the next tick, and one applied before it (it
        found the schedule set) wrote its deltas before this tick lists them."""
        self.store.delete(layout.TICK_KEY)
        pending = self.pending_rows()
        lacking, tables, built = self._lacking(pending)
        if lacking == 0:
            return TickOutcome("current", 0)
        if lacking is None or built is None:
            reason = "traffic_stats.csv was not built from stats tables that count their changes"
        elif lacking * REBUILD_GROWTH >= sum(map(_pairs, tables)):
            reason = f"the changes since the last rebuild reached 1/{REBUILD_GROWTH} of the pairs"
        elif sum(table.size for table in tables if table is not None) <= SMALL_TABLES:
            reason = "the stats tables are small"
        elif lacking in set(seen):
            reason = "no file arrived since the previous tick"
        elif self.clock() - built >= max_age:
            reason = f"the last rebuild is {max_age:.0f} s old"
        else:
            return TickOutcome("deferred", lacking)
        pairs = self.rebuild_traffic_stats(folding=pending)
        return TickOutcome(reason, lacking or 0, pairs)

    def _lacking(self, pending: Mapping[int, Mapping[str, int]]) -> tuple[int | None, list[Blob | None], float | None]:
        """What traffic_stats.csv lacks, in (day, pair) changes: those pending plus those folded since its
        rebuild (None: it was not built from stats tables that count them); the stats tables' HEADs; when
        it was built (None: never, or by an earlier version). Without such a traffic_stats.csv the stats
        tables are not read (a rebuild follows, whatever they say)."""
        current = self.store.head(layout.TRAFFIC_STATS_KEY)
        recorded = current.metadata.get(BUILT_FROM, "") if current is not None else ""
        if current is None or len(recorded.split(",")) != SHARDS or BUILT_AT not in current.metadata:
            return None, [], None
        tables = parallel(self.store.head, [layout.stats_table_key(shard) for shard in range(SHARDS)])
        since = [_folded_rows(table) - int(b) for table, b in zip(tables, recorded.split(","), strict=True)]
        if min(since) < 0:
            return None, tables, None  # a table that does not count what it folded (an earlier version wrote it)
        return (
            sum(since) + sum(sum(rows.values()) for rows in pending.values()),
            tables,
            float(current.metadata[BUILT_AT]),
        )

    def lacking(self) -> int | None:
        """The (day, pair) changes traffic_stats.csv lacks (None: it was not built from stats tables that
        count them)."""
        return self._lacking(self.pending_rows())[0]

    def traffic_stats_current(self) -> bool:
        """Whether traffic_stats.csv includes every consolidated file: no delta is pending and it was
        built from the stats tables as they are."""
        return self.lacking() == 0

    def rebuild_traffic_stats(self, folding: Mapping[int, Iterable[str]] | None = None) -> int:
        """traffic_stats.csv from the stats tables, one shard in memory at a time: each shard's rows are
        sorted into a temporary file, the files merged in (SrcIP, DstIP) order into the upload (a
        managed, multipart transfer), its metadata naming the stats tables' FOLDED_ROWS. Returns the
        pairs written. `folding`: the pending deltas by shard, as the tick listed them; each shard is
        folded first (the table the fold wrote is the one written out, so each is read once; a shard's
        fold lists again only when a concurrent fold beat it)."""
        pairs = 0
        counters = []
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for shard in range(SHARDS):
                written = self._fold(shard, list(folding.get(shard, ())))[1] if folding is not None else None
                if written is None:
                    found = self.store.get(layout.stats_table_key(shard))
                    written = (Table.loads(found.body), found.etag, _folded_rows(found)) if found else (Table(), "", 0)
                table, _, counter = written
                counters.append(str(counter))
                rows = sorted((*pair_of(name), *stats_of_sums(sums).cells()) for name, sums in table.entries.items())
                del table, written
                pairs += len(rows)
                paths.append(os.path.join(folder, f"{shard:02d}.csv"))
                with open(paths[-1], "w", newline="") as out:
                    csv.writer(out, lineterminator="\n").writerows(rows)
                del rows
            merged = os.path.join(folder, "traffic_stats.csv")
            with open(merged, "w", newline="") as out, contextlib.ExitStack() as files:
                out.write(",".join(STATS_HEADER) + "\n")
                streams = [csv.reader(files.enter_context(open(path, newline=""))) for path in paths]
                csv.writer(out, lineterminator="\n").writerows(heapq.merge(*streams, key=_pair_key))
            metadata = {BUILT_FROM: ",".join(counters), BUILT_AT: f"{self.clock():.0f}"}
            self.store.upload_file(merged, layout.TRAFFIC_STATS_KEY, metadata)
        return pairs

    # 4. Read -------------------------------------------------------------------------------------

    def _table_entry(self, key: str, name: str) -> tuple[Any, Table] | None:
        """One pair's value in a table (None if the table does not hold it) and the table's header (as
        a Table without entries); None if the table does not exist. Two ranged GETs."""
        head = self.store.get_range(key, 0, HEADER_BYTES)
        if head is None:
            return None
        size = header_size(head)
        if size > len(head):
            head = self.store.get_range(key, 0, size) or head
        header, size = read_header(head)
        start, end = block_span(header, size, name)
        block = self.store.get_range(key, start, end) if end > start else b""
        return entry_in(block or b"", name), Table({}, header["folded"])

    def pair_days(self, src: str, dst: str) -> Days | None:
        """A pair's daily totals, exact: its days from the shard's day tables (one block each) plus the
        shard's pending deltas they do not hold. Reads: the shard's pending deltas, one block of its
        stats table (the pair's first and last day), the listing of its day tables, and one block of
        each day table of the pair's span: proportional to the pair's days, not the population."""
        name = pair_name(src, dst)
        shard = shard_of(name)
        pending = self._deltas(self.pending(shard))
        found = self._table_entry(layout.stats_table_key(shard), name)
        sums: Sums | None = found[0] if found is not None else None
        if found is not None:  # a delta written again after its fold (a late retry) is not pending
            pending = batch_of(found[1], pending)
        dates = pending_days(name, pending)
        if sums is not None:
            first, last = sums[5], sums[6]
            for key in self.store.keys(layout.day_tables_prefix(shard)):
                date = layout.date_of_day_table(key)
                if first <= date <= last:
                    dates.add(date)
        if not dates:
            return None
        ordered = sorted(dates)
        entries = parallel(lambda date: self._table_entry(layout.day_table_key(shard, date), name), ordered)
        days: Days = {}
        for date, entry in zip(ordered, entries, strict=True):
            table = None
            if entry is not None:
                value, table = entry
                if value is not None:
                    table.entries[name] = value
            total = day_value(table, name, date, pending)
            if total is not None:
                days[date] = Counts(*total)
        return days or None

    def shard_view(self, shard: int, dates: Iterable[str]) -> tuple[Table, dict[str, Table]]:
        """The shard's stats table and the day tables of `dates` with its pending deltas folded in
        memory (nothing is written): exact, like a fold that would run now."""
        for attempt in range(FOLD_ATTEMPTS):
            pending = self._deltas(self.pending(shard))
            found = self.store.get(layout.stats_table_key(shard))
            stats = Table.loads(found.body) if found is not None else Table()
            wanted = sorted(set(dates) | set(dates_of(batch_of(stats, pending))))
            blobs = parallel(lambda date: self.store.get(layout.day_table_key(shard, date)), wanted)
            days = {date: Table.loads(b.body) if b else Table() for date, b in zip(wanted, blobs, strict=True)}
            try:
                fold(stats, days, pending, self.clock())
            except Conflict:
                self.store.sleep(backoff(attempt + 3))
                continue
            return stats, days
        raise Contention(f"shard {shard}: kept changing while being read")

    def day_view(self, date: str) -> Iterator[tuple[Pair, Counts, Sums]]:
        """Every pair with a total on `date`: that total and the pair's sums over all its days (that day
        included), exact. Reads every shard's stats table and day table of `date` plus its pending
        deltas (and the day tables those touch), one shard at a time: proportional to the population
        (the stats) plus the day's pairs."""
        for shard in range(SHARDS):
            stats, days = self.shard_view(shard, [date])
            for name, value in sorted(days[date].entries.items()):
                yield pair_of(name), Counts(*value), stats.entries[name]

    def latest_date(self) -> str | None:
        """The latest day with data: of a day table, or added by a pending delta."""
        dates: list[str] = []
        for shard in range(SHARDS):
            dates += [layout.date_of_day_table(key) for key in self.store.keys(layout.day_tables_prefix(shard))]
            for delta in self._deltas(self.pending(shard)):
                dates += [date for date, pairs in delta.days.items() if any(c[2] > 0 for c in pairs.values())]
        return max(dates, default=None)


def _folded_rows(table: Blob | None) -> int:
    return int(table.metadata.get(FOLDED_ROWS, "0")) if table is not None else 0


def _pairs(table: Blob | None) -> int:
    """The pairs of a stats table, from its metadata (estimated from its size for one written before)."""
    if table is None:
        return 0
    return int(table.metadata.get(PAIRS, table.size // BYTES_PER_PAIR))


def _pair_key(row: Iterable[Any]) -> tuple[str, str]:
    src, dst, *_ = row
    return src, dst


def traffic_stats_text(state: State) -> str:
    """traffic_stats.csv as it is in the bucket (for tests and small stacks)."""
    found = state.store.get(layout.TRAFFIC_STATS_KEY)
    return found.body.decode() if found is not None else ""


def expected_stats_text(pairs: Mapping[Pair, Days]) -> str:
    """traffic_stats.csv of these pairs' days, computed directly (tests and benchmarks compare with it)."""
    from core.stats import pair_stats, write_traffic_stats

    out = io.StringIO()
    write_traffic_stats(out, {pair: pair_stats(days) for pair, days in pairs.items() if days})
    return out.getvalue()
