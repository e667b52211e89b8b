"""The consolidated state, pure: what each object holds and how a fold changes it (README, "The
consolidated state"; the protocol that reads and writes them is storage/consolidated.py).

Cost follows the file, not the world. A file's consolidation writes only things the size of the file:

* `FileLedger` (consolidated/files/<source>.json): the rows of the generation applied, so that a
  re-upload's *delta* (its rows minus the previous generation's) can be computed; while a committed
  transition's deltas may not all be written yet, it also keeps the previous rows (`previous`).
* `Delta`: one transition a -> b of one file, restricted to the pairs of shard SS: per day, per pair,
  the change of [duration, packets, flows]. A consolidation writes the deltas of all the files of its
  batch in one object per shard (`bundle`: consolidated/pending/shard=SS/bundle-<digest>.n<rows>.json;
  a lone transition's is <source>.<a>-<b>.n<rows>.json); each delta inside keeps its transition's id.

Each shard's folded state is a few tables, folded from its pending deltas now and then (one shard
at a time, amortised over many files; `fold`):

* the stats table (consolidated/shards/shard=SS/stats.tbl): per pair, the number of days, the exact
  integer sums and sums of squares of its daily totals, its first and last day;
* a day table per day (consolidated/shards/shard=SS/days/dt=D.tbl): per pair, that day's total.

Tables are sorted by a hash block of the pair and start with a header that indexes the blocks, so a
reader of one pair fetches the header and one block with two ranged GETs, whatever the table's size.
Each table records the deltas it has folded (`folded`, id -> when), which makes folds idempotent and
lets readers add exactly the pending deltas a table does not hold yet.

A pair's mean and sample standard deviation come from (n, Σx, Σx²) exactly, rounded once, so they
equal `statistics.mean`/`statistics.stdev` of its daily totals.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from core.counts import Counts
from core.stats import Pair, PairStats

FORMAT: Final = 3
SHARDS: Final = 16
"""Shards of the pair space; part of the storage format (changing it needs `clients.rebuild`)."""
BLOCKS: Final = 128
"""Index blocks per table: a reader of one pair fetches 1/BLOCKS of a table."""
HEADER_BYTES: Final = 4096
"""A table's header is read with one ranged GET of this many bytes (a larger header says its size)."""
FOLD_GROWTH: Final = 4
"""Writing a pending object folds its shard with probability FOLD_GROWTH x (the object's size / the
shard's stats table's size), at most 1, decided by a hash of its name (no listing needed): a shard is
folded about when the deltas written since its last fold reach a quarter of its table, so the fold's cost,
shared by those deltas, is proportional to the files and not to the pairs in the state. Every
scheduled tick folds every shard."""
FOLDED_KEEP_SECONDS: Final = 3600
"""How long a table remembers a delta it folded once the delta object is gone: longer than any
invocation that could still write that delta again (Lambda's timeout is at most 15 minutes)."""

SourceRow = list[Any]
"""[src, dst, flow duration, fwd packets, flows]"""
Value = list[int]
"""[duration, packets, flows] of a pair on a day (or its change)"""
Sums = list[Any]
"""[n, Σduration, Σduration², Σpackets, Σpackets², first day, last day]"""


def pair_name(src: str, dst: str) -> str:
    return f"{src},{dst}"


def pair_of(name: str) -> Pair:
    src, dst = name.split(",")
    return src, dst


def fnv1a(text: str) -> int:
    """A stable 64-bit hash (FNV-1a), the same in every process and version."""
    value = 0xCBF29CE484222325
    for byte in text.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def shard_of(name: str) -> int:
    return fnv1a(name) % SHARDS


def block_of(name: str) -> int:
    return (fnv1a(name) // SHARDS) % BLOCKS


def folds_shard(name: str, shard: int, delta_bytes: int, table_bytes: int) -> bool:
    """Whether writing this pending object makes its writer fold the shard (see FOLD_GROWTH)."""
    chance = FOLD_GROWTH * delta_bytes / table_bytes if table_bytes > 0 else 1.0
    return fnv1a(f"{name}/{shard}") % 1_000_000 < chance * 1_000_000


# Tables ------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A sorted, block-indexed map of pair name -> value, with a small metadata document."""

    entries: dict[str, Any] = field(default_factory=dict)
    folded: dict[str, float] = field(default_factory=dict)
    """delta id -> when it was folded into this table"""

    def dumps(self) -> bytes:
        names = sorted(self.entries, key=lambda name: (block_of(name), name))
        body = bytearray()
        index: list[int] = []
        block = 0
        for name in names:
            while block <= block_of(name):
                index.append(len(body))
                block += 1
            body += json.dumps([name, self.entries[name]], separators=(",", ":")).encode() + b"\n"
        while block <= BLOCKS:
            index.append(len(body))
            block += 1
        header = json.dumps({"format": FORMAT, "folded": self.folded, "index": index}, separators=(",", ":"))
        size = HEADER_BYTES
        while size < len(header) + 10:
            size *= 2
        head = f"{size:08d}:{header}".encode()
        return head + b" " * (size - len(head) - 1) + b"\n" + bytes(body)

    @classmethod
    def loads(cls, data: bytes) -> Table:
        header, size = read_header(data)
        entries: dict[str, Any] = {}
        for line in data[size:].splitlines():
            name, value = json.loads(line)
            entries[name] = value
        return cls(entries, header["folded"])


def header_size(prefix: bytes) -> int:
    """The length of a table's header, from its first bytes."""
    return int(prefix[:8])


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    """A table's header document and its length in bytes, from (at least) the header's bytes."""
    size = header_size(data)
    header: dict[str, Any] = json.loads(data[9:size])
    if header.get("format") != FORMAT:
        raise ValueError(f"unknown table format {header.get('format')!r} (run python -m clients.rebuild)")
    return header, size


def block_span(header: Mapping[str, Any], size: int, name: str) -> tuple[int, int]:
    """The byte range [start, end) of the block that would hold `name`, in the whole object."""
    index: list[int] = header["index"]
    block = block_of(name)
    return size + index[block], size + index[block + 1]


def entry_in(block: bytes, name: str) -> Any:
    """The value of `name` in a block's lines, or None."""
    prefix = json.dumps([name], separators=(",", ":"))[:-1].encode() + b","
    for line in block.splitlines():
        if line.startswith(prefix):
            return json.loads(line)[1]
    return None


# Files and their deltas --------------------------------------------------------------------------

GZIP_MAGIC: Final = b"\x1f\x8b"


def packed(document: Mapping[str, Any]) -> bytes:
    """A ledger's or a delta's bytes: compact JSON, gzip-compressed at level 1 (a ledger holds every row
    of its file, as summaries/ does: 21 instead of 52 bytes a row for random addresses, in 2 ms per
    1,000 rows; less where addresses repeat). mtime 0: the same document is the same bytes."""
    return gzip.compress(json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), 1, mtime=0)


def unpacked(data: bytes) -> Any:
    """The document of `packed` bytes, or of plain JSON (what stacks wrote before compression)."""
    return json.loads(gzip.decompress(data) if data[:2] == GZIP_MAGIC else data)


@dataclass
class FileLedger:
    """One file's applied generation and its rows by day; `previous` holds the rows of the generation
    before while the transition's deltas are being written (None once they all are)."""

    generation: int = 0
    rows: dict[str, list[SourceRow]] = field(default_factory=dict)
    previous: dict[str, Any] | None = None
    """{"generation": a, "rows": rows of a}"""

    def advance(self, generation: int, rows: Mapping[str, Sequence[SourceRow]]) -> None:
        """Commit the transition to `generation` (the caller has written the pending one's deltas)."""
        if self.previous is not None:
            raise ValueError("the previous transition's deltas are not written yet")
        self.previous = {"generation": self.generation, "rows": self.rows}
        self.generation = generation
        self.rows = {date: [list(row) for row in day] for date, day in rows.items() if day}

    def pending_deltas(self, source: str) -> dict[int, Delta]:
        """The deltas of the committed transition whose writing may not be finished, by shard."""
        if self.previous is None:
            return {}
        return deltas_of(source, self.previous["generation"], self.previous["rows"], self.generation, self.rows)

    def dumps(self) -> bytes:
        return packed({"format": FORMAT, "generation": self.generation, "rows": self.rows, "previous": self.previous})

    @classmethod
    def loads(cls, data: bytes) -> FileLedger:
        document = unpacked(data)
        if document.get("format") != FORMAT:
            raise ValueError(f"file ledger: unknown format {document.get('format')!r} (run python -m clients.rebuild)")
        return cls(document["generation"], document["rows"], document["previous"])


@dataclass
class Delta:
    """A file's transition a -> b restricted to one shard: day -> pair -> change of [d, p, flows]."""

    id: str
    days: dict[str, dict[str, Value]]

    def dumps(self) -> bytes:
        return packed({"format": FORMAT, "id": self.id, "days": self.days})

    @property
    def rows(self) -> int:
        """The (day, pair) changes it holds."""
        return sum(len(pairs) for pairs in self.days.values())

    @classmethod
    def loads(cls, data: bytes) -> Delta:
        document = unpacked(data)
        if document.get("format") != FORMAT:
            raise ValueError(f"delta: unknown format {document.get('format')!r} (run python -m clients.rebuild)")
        return cls(document["id"], document["days"])


def bundle(deltas: Sequence[Delta]) -> tuple[str, bytes]:
    """One pending object holding several transitions' deltas of one shard (one PUT for a batch of files,
    not one per file): its name and its bytes. Each delta keeps its transition's id: folds and readers
    take each transition once, whichever objects hold it. A single delta is written as itself, under its
    id; several under a digest of their sorted ids (the same transitions give the same name and, each
    delta being determined by its file's ledger, the same bytes)."""
    if len(deltas) == 1:
        return deltas[0].id, deltas[0].dumps()
    ordered = sorted(deltas, key=lambda delta: delta.id)
    name = "bundle-" + hashlib.sha256("\n".join(delta.id for delta in ordered).encode()).hexdigest()[:32]
    document = {"format": FORMAT, "id": name, "deltas": [{"id": delta.id, "days": delta.days} for delta in ordered]}
    return name, packed(document)


def deltas_in(data: bytes) -> list[Delta]:
    """The deltas of a pending object: one transition's (`Delta.dumps`) or a bundle's."""
    document = unpacked(data)
    if document.get("format") != FORMAT:
        raise ValueError(f"delta: unknown format {document.get('format')!r} (run python -m clients.rebuild)")
    if "deltas" in document:
        return [Delta(item["id"], item["days"]) for item in document["deltas"]]
    return [Delta(document["id"], document["days"])]


def delta_id(source: str, before: int, after: int) -> str:
    return f"{source}.{before}-{after}"


def unwritten_transition(ledger: FileLedger) -> str:
    """The "a-b" of the committed transition whose deltas may not all be written yet ("" if none): the
    ledger object carries it in its metadata, so a fold can ask with a HEAD."""
    return f"{ledger.previous['generation']}-{ledger.generation}" if ledger.previous is not None else ""


def _by_pair(rows: Iterable[SourceRow]) -> dict[str, Value]:
    totals: dict[str, Value] = {}
    for src, dst, duration, packets, flows in rows:
        value = totals.setdefault(pair_name(src, dst), [0, 0, 0])
        value[0] += duration
        value[1] += packets
        value[2] += flows
    return totals


def deltas_of(
    source: str,
    before: int,
    old: Mapping[str, Sequence[SourceRow]],
    after: int,
    new: Mapping[str, Sequence[SourceRow]],
) -> dict[int, Delta]:
    """What a file's transition from generation `before` (rows `old`) to `after` (rows `new`) changes,
    by shard; shards and days it leaves unchanged are absent."""
    identity = delta_id(source, before, after)
    shards: dict[int, Delta] = {}
    for date in sorted(set(old) | set(new)):
        was, now = _by_pair(old.get(date, ())), _by_pair(new.get(date, ()))
        for name in sorted(set(was) | set(now)):
            a, b = was.get(name, [0, 0, 0]), now.get(name, [0, 0, 0])
            change = [b[0] - a[0], b[1] - a[1], b[2] - a[2]]
            if any(change):
                delta = shards.setdefault(shard_of(name), Delta(identity, {}))
                delta.days.setdefault(date, {})[name] = change
    return shards


# Folding -----------------------------------------------------------------------------------------


def _add(total: Value, change: Value) -> None:
    for index in range(3):
        total[index] += change[index]


def _plus(value: Value | None, change: Value) -> Value | None:
    """A day total plus a change; None when no flow is left (the pair has no total that day)."""
    total = [a + b for a, b in zip(value or [0, 0, 0], change, strict=True)]
    return total if total[2] > 0 else None


def _sums_change(old: Value | None, new: Value | None) -> list[int]:
    """The change of [n, Σd, Σd², Σp, Σp²] when a pair's day total goes from `old` to `new`."""
    before, after = old or [0, 0, 0], new or [0, 0, 0]
    return [
        (new is not None) - (old is not None),
        after[0] - before[0],
        after[0] ** 2 - before[0] ** 2,
        after[1] - before[1],
        after[1] ** 2 - before[1] ** 2,
    ]


class Conflict(Exception):
    """Another fold of the same shard is under way with deltas this one did not list: start again."""


def fold_day(table: Table, date: str, batch: Sequence[Delta], known: Iterable[str], now: float) -> dict[str, list[int]]:
    """Fold the batch's changes of `date` into its day table (each delta once: the table records it)
    and return the change of each touched pair's sums. The table may already hold some of the batch
    (a fold that crashed before its stats table was written), never a delta outside `known` (the
    batch and what the stats table holds) folded recently: that is a concurrent fold's, and raises
    Conflict. (A delta folded long ago may stay listed in a day table after the stats table forgot it.)"""
    allowed = {delta.id for delta in batch} | set(known)
    if any(identity not in allowed and now - when < FOLDED_KEEP_SECONDS for identity, when in table.folded.items()):
        raise Conflict(f"a day table of {date} holds a recent delta this fold did not list")
    changes: dict[str, Value] = {}
    unfolded: dict[str, Value] = {}
    for delta in batch:
        for name, change in delta.days.get(date, {}).items():
            _add(changes.setdefault(name, [0, 0, 0]), change)
            if delta.id not in table.folded:
                _add(unfolded.setdefault(name, [0, 0, 0]), change)
    for name, change in unfolded.items():  # summed first: a total is valid only after every change
        value = _plus(table.entries.get(name), change)
        if value is None:
            table.entries.pop(name, None)
        else:
            table.entries[name] = value
    for delta in batch:
        if date in delta.days:
            table.folded.setdefault(delta.id, now)
    sums: dict[str, list[int]] = {}
    for name, change in changes.items():
        new = table.entries.get(name)
        old = _plus(new, [-value for value in change])
        if new != old:
            sums[name] = _sums_change(old, new)
    return sums


def fold_stats(table: Table, date: str, changes: Mapping[str, list[int]]) -> None:
    """Add one day's changes of the pairs' sums into the stats table."""
    for name, change in changes.items():
        sums = table.entries.get(name) or [0, 0, 0, 0, 0, date, date]
        for index, value in enumerate(change):
            sums[index] += value
        if sums[0] == 0:
            table.entries.pop(name, None)
            continue
        if change[0] >= 0:
            sums[5], sums[6] = min(sums[5], date), max(sums[6], date)
        table.entries[name] = sums


def forget(table: Table, listed: Iterable[str], now: float, keep: Callable[[str], bool] = lambda _: False) -> None:
    """Forget folded deltas older than FOLDED_KEEP_SECONDS whose objects are gone (not `listed`), except
    those `keep` says could still be written again (the stats table keeps a delta while its file's
    ledger has not yet recorded that the transition's deltas are all written)."""
    present = set(listed)
    table.folded = {
        identity: when
        for identity, when in table.folded.items()
        if identity in present or now - when < FOLDED_KEEP_SECONDS or keep(identity)
    }


def transition_of(identity: str) -> tuple[str, str]:
    """(source, "a-b") of a delta id."""
    source, _, transition = identity.rpartition(".")
    return source, transition


def batch_of(stats: Table, deltas: Iterable[Delta]) -> list[Delta]:
    """The deltas the stats table has not folded yet, in id order."""
    return sorted((delta for delta in deltas if delta.id not in stats.folded), key=lambda delta: delta.id)


def dates_of(batch: Iterable[Delta]) -> list[str]:
    return sorted({date for delta in batch for date in delta.days})


def fold(stats: Table, days: Mapping[str, Table], deltas: Sequence[Delta], now: float) -> list[Delta]:
    """Fold, in memory, every delta the stats table has not folded into the day tables (which must
    include every day the batch touches) and the stats table. Returns the batch."""
    batch = batch_of(stats, deltas)
    for date in dates_of(batch):
        fold_stats(stats, date, fold_day(days[date], date, batch, stats.folded, now))
    for delta in batch:
        stats.folded[delta.id] = now
    return batch


def day_value(table: Table | None, name: str, date: str, pending: Iterable[Delta]) -> Value | None:
    """A pair's total of a day: the day table's, plus each pending delta the table has not folded."""
    value: Value | None = table.entries.get(name) if table is not None else None
    folded = table.folded if table is not None else {}
    changes = [
        change
        for delta in pending
        if delta.id not in folded and (change := delta.days.get(date, {}).get(name)) is not None
    ]
    if not changes:
        return value
    total = [0, 0, 0]
    for change in changes:  # summed first: the pending deltas come in no particular order
        _add(total, change)
    return _plus(value, total)


def counts_of(value: Value) -> Counts:
    return Counts(*value)


def pending_days(name: str, pending: Iterable[Delta]) -> set[str]:
    return {date for delta in pending for date, pairs in delta.days.items() if name in pairs}


def iter_rows(tables: Iterable[Table]) -> Iterator[tuple[str, Any]]:
    for table in tables:
        yield from table.entries.items()


# Statistics --------------------------------------------------------------------------------------


def sqrt_of_ratio(numerator: int, denominator: int) -> float:
    """sqrt(numerator / denominator) correctly rounded to a float: an integer square root carried to at
    least 56 bits, its last bit set when inexact (round to odd), then one correctly rounded int/int
    division."""
    shift = max(0, (2 * 56 - numerator.bit_length() + denominator.bit_length()) // 2 + 1)
    scaled = numerator << (2 * shift)
    root = math.isqrt(scaled // denominator)
    if root * root * denominator != scaled:
        root |= 1
    return root / (1 << shift)


def mean_std(n: int, total: int, squares: int) -> tuple[float, float]:
    """Mean and sample standard deviation from the count, sum and sum of squares of integers, each
    rounded once (Python's int / int is correctly rounded)."""
    if n < 2:
        return total / n, 0.0
    return total / n, sqrt_of_ratio(n * squares - total * total, n * (n - 1))


def stats_of_sums(sums: Sums) -> PairStats:
    """Exact mean and sample standard deviation (n-1) from the count and the integer sums."""
    n, duration, duration_squares, packets, packet_squares = sums[:5]
    avg_duration, std_duration = mean_std(n, duration, duration_squares)
    avg_packets, std_packets = mean_std(n, packets, packet_squares)
    return PairStats(n, avg_duration, std_duration, avg_packets, std_packets)
