"""One file's daily totals in compact form (issue 15): per ISO day, a dict from the pair's bytes
b"src,dst" to an offset into one flat list of int sums (duration, packets, flows at offset, +1, +2).

No per-key tuple or string: a key costs its bytes, a dict entry, an int offset and three list
slots (about 250 bytes; `Key`/`Counts` tuples with their strings cost over 600). Keys and Counts
are built only for whoever asks for them one at a time (`items`); the summary CSV is written
straight from the table (`core.summary.write_table`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from core.counts import Counts, Key, Totals

_OCTET: Final = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_QUAD: Final = _OCTET + rb"(?:\." + _OCTET + rb"){3}"
NORMAL_IPV4_PAIR: Final = re.compile(_QUAD + rb"," + _QUAD)
"""Two IPv4 addresses already in normal form (dotted quads without leading zeros), comma-joined."""
PLAIN_PAIR: Final = re.compile(rb"[0-9A-Za-z.:,]+")
"""A pair made of these sorts as (src, dst) in bytes order (',' is below them all) and needs no CSV quoting."""

Pairs = dict[bytes, int]
"""b"src,dst" -> offset into DailyTotals.sums"""


def place(pairs: Pairs, sums: list[int], pair: bytes, offset: int) -> None:
    """File the sums at `offset` under `pair`: a new pair takes the offset, a known one adds them in."""
    known = pairs.get(pair)
    if known is None:
        pairs[pair] = offset
    else:
        sums[known] += sums[offset]
        sums[known + 1] += sums[offset + 1]
        sums[known + 2] += sums[offset + 2]


@dataclass(eq=False)
class DailyTotals:
    days: dict[str, Pairs] = field(default_factory=dict)
    sums: list[int] = field(default_factory=list)
    plain: bool = True
    """Every pair matches PLAIN_PAIR (false only for exotic IPv6 zone ids): then bytes order is CSV order."""

    def __eq__(self, other: object) -> bool:
        """The same totals under the same keys (wherever their sums are stored)."""
        if not isinstance(other, DailyTotals):
            return NotImplemented
        return len(self) == len(other) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self.days.values())

    def dates(self) -> list[str]:
        return sorted(self.days)

    def pair_count(self) -> int:
        """Distinct (src, dst) over all days."""
        if len(self.days) == 1:
            return len(next(iter(self.days.values())))
        return len(set().union(*self.days.values()))

    def add(self, day: str, pair: bytes, duration: int, packets: int, flows: int) -> None:
        pairs = self.days.get(day)
        if pairs is None:
            pairs = self.days[day] = {}
        offset = pairs.get(pair)
        sums = self.sums
        if offset is None:
            pairs[pair] = len(sums)
            sums += (duration, packets, flows)
            self.plain = self.plain and PLAIN_PAIR.fullmatch(pair) is not None
        else:
            sums[offset] += duration
            sums[offset + 1] += packets
            sums[offset + 2] += flows

    def merge(self, other: DailyTotals) -> None:
        """Add another table's totals into this one."""
        sums, theirs = self.sums, other.sums
        for day, their_pairs in other.days.items():
            pairs = self.days.get(day)
            if pairs is None:
                pairs = self.days[day] = {}
            known_offset = pairs.get
            for pair, offset in their_pairs.items():
                known = known_offset(pair)
                if known is None:
                    pairs[pair] = len(sums)
                    sums += theirs[offset : offset + 3]
                else:
                    sums[known] += theirs[offset]
                    sums[known + 1] += theirs[offset + 1]
                    sums[known + 2] += theirs[offset + 2]
        self.plain = self.plain and other.plain

    def counts(self, day: str, pair: bytes) -> Counts:
        offset = self.days[day][pair]
        return Counts(*self.sums[offset : offset + 3])

    def sorted_pairs(self, day: str) -> list[bytes]:
        """The day's pairs in (src, dst) order."""
        pairs = self.days.get(day, {})
        if self.plain:
            return sorted(pairs)
        return sorted(pairs, key=lambda pair: pair.split(b",", 1))

    def items(self, dates: Iterable[str] | None = None) -> Iterator[tuple[Key, Counts]]:
        """(Key, Counts) one at a time, in summary order."""
        for day in self.dates() if dates is None else dates:
            for pair in self.sorted_pairs(day):
                src, dst = pair.decode("ascii").split(",", 1)
                yield Key(day, src, dst), self.counts(day, pair)

    def as_dict(self) -> Totals:
        """A full dict of Key -> Counts: for tests and small files, not for the summarize path."""
        return dict(self.items())

    @classmethod
    def from_totals(cls, totals: Iterable[tuple[Key, Counts]]) -> DailyTotals:
        table = cls()
        for key, counts in totals:
            table.add(key.date, f"{key.src},{key.dst}".encode("ascii"), *counts)
        return table
