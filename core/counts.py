"""The numbers the pipeline adds up, and what it adds them up under."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple


class Key(NamedTuple):
    date: str
    """ISO day, yyyy-mm-dd"""
    src: str
    dst: str


class Counts(NamedTuple):
    """Totals of a set of flows: flow duration (microseconds), forward packets, flows."""

    duration: int = 0
    packets: int = 0
    flows: int = 0

    def __add__(self, other: object) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(self.duration + other.duration, self.packets + other.packets, self.flows + other.flows)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.duration - other.duration, self.packets - other.packets, self.flows - other.flows)


Totals = dict[Key, Counts]
"""Daily totals per directed pair: (date, src, dst) -> counts."""


def add_into(target: dict[Key, Counts], items: Iterable[tuple[Key, Counts]]) -> None:
    for key, counts in items:
        previous = target.get(key)
        target[key] = counts if previous is None else previous + counts


def merged(parts: Iterable[Mapping[Key, Counts]]) -> Totals:
    """One number per (day, pair): the sum of every part's counts (DESIGN 5.1)."""
    total: Totals = {}
    for part in parts:
        add_into(total, part.items())
    return total
