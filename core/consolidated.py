"""The consolidated state: three kinds of objects, each bounded by what it describes, not by history.

* `BranchDay` (consolidated/ledger/dt=D/branch=H.json): one branch's files of one day, each file's
  rows and generation. Replacing a file's contribution needs its previous rows; they are here.
  A file rewrites only the branch-days it covers (one or two), and branches never contend.
* `DayPart` (consolidated/days/dt=D/part=NN.json): the day's totals of the pairs hashed to part NN,
  one entry per contributing branch, *set* (not added) from a branch-day revision, so folding the
  same revision twice changes nothing. Each change of a pair's day total leaves the matching change
  of the pair's running sums in an outbox, keyed by the part's revision, until the stats part took it.
* `StatsPart` (consolidated/pairs/part=NN.json): per pair, the number of days, the exact integer sums
  Σx and Σx² of its daily duration and packet totals, and the span of days it was seen in; plus, per
  day, the revision of that day's part whose outbox it has taken. Its size is one entry per pair.
* `MonthPart` (consolidated/months/month=M/part=NN.json): the day totals of part NN's pairs in month
  M, each day *set* from a day part revision, compacted once compactAfterDays days of M have
  changed since the last compaction (the stats part counts them), so an export reads a month part
  and at most a few recent day parts per month of its span, not one object per day.

A pair's mean and sample standard deviation come from (n, Σx, Σx²) exactly, rounded once, so they
equal `statistics.mean`/`statistics.stdev` of its daily totals (README, "The consolidated state").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from core.counts import Counts
from core.stats import Days, Pair, PairStats

FORMAT: Final = 2
PART_COUNT: Final = 8
"""Parts per day and stats parts; part of the storage format (changing it needs `clients.rebuild`)."""
COMPACT_AFTER_DAYS: Final = 6
"""The default of config compactAfterDays: a month part is compacted when this many of its days have
changed since it was last due, so an export reads fewer than this many day parts per month besides
the month part, and one compaction (the month part read and written) is shared by that many days."""

SourceRow = list[Any]
"""[src, dst, flow duration, fwd packets, flows]"""
Delta = list[Any]
"""[pair, Δn, ΔΣduration, ΔΣduration², ΔΣpackets, ΔΣpackets²]"""


def pair_name(src: str, dst: str) -> str:
    return f"{src},{dst}"


def pair_of(name: str) -> Pair:
    src, dst = name.split(",")
    return src, dst


def part_of(name: str) -> int:
    """The part of a pair: a stable hash (FNV-1a), the same in every process and version."""
    value = 0xCBF29CE484222325
    for byte in name.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value % PART_COUNT


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps({"format": FORMAT, **document}, separators=(",", ":"), sort_keys=True).encode()


def _loads(data: bytes, kind: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(data)
    if document.get("format") != FORMAT:
        raise ValueError(f"{kind}: unknown format {document.get('format')!r} (run python -m clients.rebuild)")
    return document


@dataclass
class BranchDay:
    revision: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    """source id -> the generation applied (kept when its rows leave: an older generation cannot return)"""
    rows: dict[str, list[SourceRow]] = field(default_factory=dict)
    parts: list[int] = field(default_factory=list)
    """Every part any revision had rows in (it only grows): no other day part holds this branch-day's
    entries, whatever order revisions are folded in, so folds skip the others."""

    def apply(self, source: str, generation: int, rows: Sequence[SourceRow]) -> bool:
        """Make `rows` the source's contribution to this branch-day, unless an equal or newer generation is in."""
        if self.sources.get(source, -1) >= generation:
            return False
        self.sources[source] = generation
        if rows:
            self.rows[source] = [list(row) for row in rows]
        else:
            self.rows.pop(source, None)
        self.parts = sorted(set(self.parts) | {part_of(pair_name(row[0], row[1])) for row in rows})
        self.revision += 1
        return True

    def totals_by_part(self) -> dict[int, dict[str, Counts]]:
        """The branch's total of the day per pair, grouped by part, for every part in `parts`."""
        parts: dict[int, dict[str, Counts]] = {part: {} for part in self.parts}
        for rows in self.rows.values():
            for src, dst, duration, packets, flows in rows:
                name = pair_name(src, dst)
                pairs = parts.setdefault(part_of(name), {})
                pairs[name] = pairs.get(name, Counts()) + Counts(duration, packets, flows)
        return parts

    def dumps(self) -> bytes:
        return _dumps({"revision": self.revision, "sources": self.sources, "rows": self.rows, "parts": self.parts})

    @classmethod
    def loads(cls, data: bytes) -> BranchDay:
        document = _loads(data, "branch-day ledger")
        return cls(document["revision"], document["sources"], document["rows"], document["parts"])


def _delta(old: Counts | None, new: Counts | None) -> list[int]:
    """The change of a pair's running sums when its day total goes from `old` to `new` (None: no total)."""
    before, after = old or Counts(), new or Counts()
    return [
        (new is not None) - (old is not None),
        after.duration - before.duration,
        after.duration**2 - before.duration**2,
        after.packets - before.packets,
        after.packets**2 - before.packets**2,
    ]


@dataclass
class DayPart:
    revision: int = 0
    ledgers: dict[str, int] = field(default_factory=dict)
    """branch hash -> the revision of its branch-day folded in"""
    pairs: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """pair -> branch hash -> [duration, packets, flows]"""
    outbox: dict[str, list[Delta]] = field(default_factory=dict)
    """revision -> the changes of running sums it made, until the stats part has taken them"""

    def total(self, name: str) -> Counts | None:
        branches = self.pairs.get(name)
        if not branches:
            return None
        return sum((Counts(*values) for values in branches.values()), Counts())

    def fold(self, branch: str, revision: int, totals: Mapping[str, Counts], taken: int) -> bool:
        """Set the branch's totals of this part to those of its branch-day `revision`, unless an equal or
        newer one is in; drop outbox entries the stats part has taken (`taken`)."""
        if self.ledgers.get(branch, -1) >= revision:
            return False
        names = {name for name, branches in self.pairs.items() if branch in branches} | set(totals)
        deltas: list[Delta] = []
        for name in sorted(names):
            old = self.total(name)
            branches = self.pairs.setdefault(name, {})
            if name in totals:
                branches[branch] = list(totals[name])
            else:
                branches.pop(branch, None)
                if not branches:
                    del self.pairs[name]
            new = self.total(name)
            if new != old:
                deltas.append([name, *_delta(old, new)])
        self.ledgers[branch] = revision
        self.revision += 1
        self.outbox = {key: entries for key, entries in self.outbox.items() if int(key) > taken}
        if deltas:
            self.outbox[str(self.revision)] = deltas
        return True

    def pending(self, taken: int) -> Iterable[Delta]:
        """The outbox entries after revision `taken`, in revision order."""
        for revision in range(taken + 1, self.revision + 1):
            yield from self.outbox.get(str(revision), ())

    def dumps(self) -> bytes:
        return _dumps({"revision": self.revision, "ledgers": self.ledgers, "pairs": self.pairs, "outbox": self.outbox})

    @classmethod
    def loads(cls, data: bytes) -> DayPart:
        document = _loads(data, "day part")
        return cls(document["revision"], document["ledgers"], document["pairs"], document["outbox"])


Sums = list[Any]
"""[n, Σduration, Σduration², Σpackets, Σpackets², first day, last day]"""


@dataclass
class StatsPart:
    revision: int = 0
    taken: dict[str, int] = field(default_factory=dict)
    """day -> the revision of the day's part (of this part number) whose outbox is in the sums"""
    pairs: dict[str, Sums] = field(default_factory=dict)
    uncompacted: dict[str, list[str]] = field(default_factory=dict)
    """month -> its days taken since the month part was last due for compaction"""

    def take(self, date: str, day: DayPart) -> bool:
        """Add the day part's outbox entries not yet taken, in order; False if there were none."""
        taken = self.taken.get(date, 0)
        if day.revision <= taken:
            return False
        for name, *change in day.pending(taken):
            sums = self.pairs.get(name) or [0, 0, 0, 0, 0, date, date]
            for index, value in enumerate(change):
                sums[index] += value
            if sums[0] == 0:
                self.pairs.pop(name, None)
                continue
            if day.total(name) is not None:
                sums[5], sums[6] = min(sums[5], date), max(sums[6], date)
            self.pairs[name] = sums
        self.taken[date] = day.revision
        self.revision += 1
        days = self.uncompacted.setdefault(month_of(date), [])
        if date not in days:
            days.append(date)
            days.sort()
        return True

    def due(self, threshold: int) -> dict[str, dict[str, int]]:
        """The months with at least `threshold` days taken since they were last due, each with the
        revision taken of every day of it; they start counting again."""
        months = [month for month, days in self.uncompacted.items() if len(days) >= threshold]
        for month in months:
            del self.uncompacted[month]
        return {month: {d: r for d, r in self.taken.items() if month_of(d) == month} for month in months}

    def span(self, src: str, dst: str) -> tuple[str, str] | None:
        """The first and last day the pair was seen in (a superset of its days: it never shrinks)."""
        sums = self.pairs.get(pair_name(src, dst))
        return (sums[5], sums[6]) if sums else None

    def stats(self) -> dict[Pair, PairStats]:
        return {pair_of(name): stats_of_sums(sums) for name, sums in self.pairs.items()}

    def dumps(self) -> bytes:
        return _dumps(
            {"revision": self.revision, "taken": self.taken, "pairs": self.pairs, "uncompacted": self.uncompacted}
        )

    @classmethod
    def loads(cls, data: bytes) -> StatsPart:
        document = _loads(data, "stats part")
        return cls(document["revision"], document["taken"], document["pairs"], document.get("uncompacted", {}))


def month_of(date: str) -> str:
    return date[:7]


@dataclass
class MonthPart:
    revisions: dict[str, int] = field(default_factory=dict)
    """day -> the revision of the day part whose totals it holds"""
    pairs: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """pair -> day -> [duration, packets, flows]"""

    def set_day(self, date: str, day: DayPart) -> bool:
        """Make the day's totals those of the day part, unless it holds that revision or a newer one."""
        if day.revision <= self.revisions.get(date, 0):
            return False
        for name, days in list(self.pairs.items()):
            days.pop(date, None)
            if not days:
                del self.pairs[name]
        for name in day.pairs:
            total = day.total(name)
            if total is not None:
                self.pairs.setdefault(name, {})[date] = list(total)
        self.revisions[date] = day.revision
        return True

    def dumps(self) -> bytes:
        return _dumps({"revisions": self.revisions, "pairs": self.pairs})

    @classmethod
    def loads(cls, data: bytes) -> MonthPart:
        document = _loads(data, "month part")
        return cls(document["revisions"], document["pairs"])


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


def _mean_std(n: int, total: int, squares: int) -> tuple[float, float]:
    """Python's int / int is correctly rounded, so the mean needs no fraction."""
    if n < 2:
        return total / n, 0.0
    return total / n, sqrt_of_ratio(n * squares - total * total, n * (n - 1))


def stats_of_sums(sums: Sums) -> PairStats:
    """Exact mean and sample standard deviation (n-1) from the count and the integer sums."""
    n, duration, duration_squares, packets, packet_squares = sums[:5]
    avg_duration, std_duration = _mean_std(n, duration, duration_squares)
    avg_packets, std_packets = _mean_std(n, packets, packet_squares)
    return PairStats(n, avg_duration, std_duration, avg_packets, std_packets)


def _entry(body: bytes, name: str, close: bytes, *, last: bool = False) -> Any:
    """One pair's value in a serialized day, stats or month part, without parsing the rest of it. Parts
    are written with sorted keys and no spaces, a pair name (two IPs and a comma) occurs as a key only
    in `pairs` (the other keys are branch hashes, revisions, days and months), and its value is one
    object of numbers (day part) or of lists (month part), or one list (stats part), so it ends at the
    first `close` byte after it. With `last`, `name` is a top-level key that sorts after `pairs`
    (a flat object's): its last occurrence is the one."""
    needle = json.dumps(name).encode() + b":"
    start = body.rfind(needle) if last else body.find(needle)
    if start < 0:
        return None
    start += len(needle)
    return json.loads(body[start : body.index(close, start) + 1])


def day_total_in(body: bytes, name: str) -> Counts | None:
    """The pair's total in a serialized day part (what an export reads from each day)."""
    branches = _entry(body, name, b"}")
    return sum((Counts(*values) for values in branches.values()), Counts()) if branches else None


def span_in(body: bytes, name: str) -> tuple[str, str] | None:
    """The pair's span in a serialized stats part."""
    sums = _entry(body, name, b"]")
    return (sums[5], sums[6]) if sums else None


def taken_in(body: bytes) -> dict[str, int]:
    """The day part revisions a serialized stats part has taken, by day."""
    taken: dict[str, int] = _entry(body, "taken", b"}", last=True) or {}
    return taken


def from_months(
    name: str, dates: Sequence[str], taken: Mapping[str, int], months: Mapping[str, bytes | None]
) -> tuple[Days, list[str]]:
    """A pair's daily totals on `dates` from the serialized month parts of those dates' months: the days
    a month part holds at (at least) the revision the stats part has taken, and the days it does not
    (missing or older there), whose day parts must be read."""
    held: dict[str, tuple[dict[str, int], dict[str, list[int]]]] = {}
    for month in {month_of(date) for date in dates}:
        body = months.get(month)
        held[month] = (
            (_entry(body, "revisions", b"}", last=True) or {}, _entry(body, name, b"}") or {}) if body else ({}, {})
        )
    days: Days = {}
    unknown: list[str] = []
    for date in dates:
        revisions, totals = held[month_of(date)]
        if date not in revisions or revisions[date] < taken.get(date, 0):
            unknown.append(date)
        elif date in totals:
            days[date] = Counts(*totals[date])
    return days, unknown


def days_of(name: str, parts: Mapping[str, DayPart]) -> Days:
    """A pair's daily totals from the day parts of its part number, keyed by day."""
    days: Days = {}
    for date, part in parts.items():
        total = part.total(name)
        if total is not None:
            days[date] = total
    return days
