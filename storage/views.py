"""Read views over the consolidated state for the analyst's commands (clients.anomalies).

Two functions, whose signatures are the contract (the protocol behind them is storage.consolidated):

* `day_view(store, date)`: every pair with a total on `date`, that total, and the pair's running sums
  over all its days, that day included, exact (the shards' pending deltas are folded in memory).
  Reads, one shard at a time (16), the shard's stats table, its day table of `date`, its pending
  deltas and the day tables those touch: bytes read and memory grow with the number of pairs (a
  stats table holds every pair of its shard, about 100 bytes each) plus the day's pairs, never with
  the number of days or files.
* `latest_date(store)`: the listing of every shard's day tables (one request per 1,000 days a shard)
  and its pending deltas.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.anomalies import Sums
from core.counts import Counts
from core.stats import Pair
from storage.consolidated import State
from storage.store import Store


def day_view(store: Store, date: str) -> Iterator[tuple[Pair, Counts, Sums]]:
    for pair, total, sums in State(store).day_view(date):
        yield pair, total, Sums(*sums)


def latest_date(store: Store) -> str | None:
    return State(store).latest_date()
