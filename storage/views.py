"""Read views over the consolidated state for the analyst's commands (clients.anomalies).

Two functions, whose signatures are the contract (their implementation follows the state's layout):

* `day_view(store, date)`: every pair with a total on `date`, that total, and the pair's running sums
  over all its days, that day included. Reads the 8 stats parts (`consolidated/pairs/part=NN.json`),
  then the 8 day parts of the date (`consolidated/days/dt=D/part=NN.json`): 16 GETs in parallel,
  whatever the history. Bytes read and parsed grow with the number of pairs (the stats parts hold
  every pair, about 60 bytes each; the day parts the day's pairs, about 70 bytes per pair and
  branch) and not with the number of days, except the stats parts' per-day revision map (a few
  bytes a day). A day part changed since its stats part took it (a consolidation under way) is
  caught up from its outbox, exactly as the next consolidation will, so a day's total and the sums
  always agree.
* `latest_date(store)`: one listing of the day folders (`consolidated/days/`, delimiter `/`: one
  request per 1,000 days), then the day parts of the latest day (8 GETs, not parsed), going back a day
  while a day holds no total (every file of it re-uploaded without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from core import layout
from core.anomalies import Sums
from core.consolidated import PART_COUNT, DayPart, StatsPart, pair_of
from core.counts import Counts
from core.stats import Pair
from storage.store import PARALLEL_READS, Store


def day_view(store: Store, date: str) -> Iterator[tuple[Pair, Counts, Sums]]:
    with ThreadPoolExecutor(PARALLEL_READS) as pool:
        # Stats parts first: a day part read after them is at least at the revision they took.
        blobs = pool.map(store.get, [layout.stats_part_key(part) for part in range(PART_COUNT)])
        stats = [StatsPart.loads(blob.body) if blob else StatsPart() for blob in blobs]
        blobs = pool.map(store.get, [layout.day_part_key(date, part) for part in range(PART_COUNT)])
        days = [DayPart.loads(blob.body) if blob else None for blob in blobs]
    for part, day in zip(stats, days, strict=True):
        if day is None:
            continue
        part.take(date, day)
        for name in sorted(day.pairs):
            total = day.total(name)
            sums = part.pairs.get(name)
            if total is not None and sums is not None:
                yield pair_of(name), total, Sums(*sums)


def latest_date(store: Store) -> str | None:
    prefix = layout.DAYS_PREFIX + "dt="
    pages = store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=prefix, Delimiter="/")
    dates = sorted(
        (item["Prefix"][len(prefix) : -1] for page in pages for item in page.get("CommonPrefixes", [])), reverse=True
    )
    with ThreadPoolExecutor(PARALLEL_READS) as pool:
        for date in dates:
            blobs = pool.map(store.get, [layout.day_part_key(date, part) for part in range(PART_COUNT)])
            # A day part is written with sorted keys and no spaces, and drops a pair with no entry left.
            if any(blob is not None and b'"pairs":{}' not in blob.body for blob in blobs):
                return date
    return None
