"""Consolidate Lambda: applies a file's published generation to the pair shards, then rebuilds traffic_stats.csv.

Every write is a bounded compare-and-swap over the version that was read (storage.Store.update),
applying a file is idempotent and ordered by generation, and only a published generation is
applied, after checking that every summary read carries that generation: duplicates, retries,
concurrent consolidators and uncommitted summarize attempts cannot lose, double or invent an
update (README, "The protocol").
"""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import layout
from core.counts import Totals, add_into
from core.shard import Row, ShardState, rows_by_shard
from core.stats import STATS_HEADER, write_traffic_stats
from core.status import CONSOLIDATED, SUMMARIZED, FileStatus
from core.summary import read_summary
from handlers.batch import BatchResponse, SqsRecord, log_outcome, process_batch
from handlers.config import consolidate_settings
from storage.store import Blob, Store, lambda_store

PARALLEL_REQUESTS = 8
REVISION = "revision"


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    store = lambda_store(consolidate_settings().bucket)
    applied: list[tuple[str, int]] = []
    parts: dict[int, int] = {}

    def record_handler(record: SqsRecord) -> None:
        result = apply_source(store, json.loads(record["body"])["key"], parts)
        if result is not None:
            applied.append(result)

    response = process_batch(event, record_handler)
    if applied:
        rebuild_traffic_stats(store, parts)
        for key, generation in applied:
            mark_consolidated(store, key, generation)
    return response


def _skip(raw_key: str, reason: str) -> None:
    log_outcome("nothing to consolidate", outcome="skipped", key=raw_key, reason=reason)


def apply_source(store: Store, raw_key: str, parts: dict[int, int]) -> tuple[str, int] | None:
    """Make the shards hold the file's published generation; returns (key, generation) applied.
    `parts` collects the revision of each stats part written, for the traffic_stats rebuild."""
    started = time.monotonic()
    status = store.load_status(raw_key)
    if status is None or not status.published:
        _skip(raw_key, "no published generation yet (its publication sends its own message)")
        return None
    if status.consolidated_generation >= status.generation:
        return None
    totals = read_generation(store, status)
    if totals is None:
        _skip(raw_key, f"generation {status.generation} was superseded while reading (the newer one follows)")
        return None
    by_shard = rows_by_shard(totals)
    shards = sorted(set(status.shards) | set(status.stale_shards) | set(by_shard))
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        revisions = list(pool.map(lambda n: apply_to_shard(store, n, status, by_shard.get(n, [])), shards))
    for shard, revision in zip(shards, revisions, strict=True):
        parts[shard] = max(parts.get(shard, 0), revision)
    log_outcome(
        "consolidated",
        outcome="consolidated",
        key=raw_key,
        generation=status.generation,
        shards=len(shards),
        rows=sum(len(rows) for rows in by_shard.values()),
        seconds=round(time.monotonic() - started, 3),
    )
    return raw_key, status.generation


def read_generation(store: Store, status: FileStatus) -> Totals | None:
    """The published summaries of the status's generation, or None if any of them has moved on."""
    totals: Totals = {}
    for date in status.dates:
        found = store.get(layout.summary_key(date, status.source))
        if found is None or found.metadata.get(layout.GENERATION) != str(status.generation):
            return None
        add_into(totals, read_summary(found.body.decode().splitlines()).items())
    return totals


def apply_to_shard(store: Store, shard: int, status: FileStatus, rows: list[Row]) -> int:
    """Apply the file to one shard and write the shard's stats part; returns the shard's revision."""
    state = ShardState()

    def apply(current: Blob | None) -> Blob | None:
        nonlocal state
        state = ShardState.loads(current.body) if current is not None else ShardState()
        if not state.apply(status.source, status.generation, rows):
            return None
        return Blob(state.dumps())

    store.update(layout.shard_key(shard), apply)
    write_stats_part(store, shard, state)
    return state.revision


def write_stats_part(store: Store, shard: int, state: ShardState) -> None:
    """The shard's rows of traffic_stats.csv, never replaced by an older revision."""
    text = io.StringIO()
    write_traffic_stats(text, state.pairs(), header=False)

    def newer(current: Blob | None) -> Blob | None:
        if current is not None and int(current.metadata.get(REVISION, -1)) >= state.revision:
            return None
        return Blob(text.getvalue().encode(), metadata={REVISION: str(state.revision)})

    store.update(layout.stats_part_key(shard), newer, read_body=False)


def _revisions(text: str) -> dict[int, int]:
    return {int(shard): int(revision) for shard, revision in (item.split(":") for item in text.split(",") if item)}


def rebuild_traffic_stats(store: Store, parts: dict[int, int]) -> None:
    """Concatenate the stats parts, unless traffic_stats.csv already includes the part revisions we wrote.

    Each rebuild records the revision of every part it read. Our parts were written before update()
    reads the ETag it replaces, so when our write loses a race, the winner (or a later rebuild) has
    either read our revisions, which its metadata then says, or we rebuild again: the last rebuild
    has seen every part written before it, and concurrent consolidators converge in a few attempts."""

    def rebuilt(current: Blob | None) -> Blob | None:
        if current is not None:
            included = _revisions(current.metadata.get(REVISION, ""))
            if all(included.get(shard, -1) >= revision for shard, revision in parts.items()):
                return None
        keys = list(store.keys(layout.STATS_PARTS_PREFIX))
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            found = [(key, part) for key, part in zip(keys, pool.map(store.get, keys), strict=True) if part]
        lines = sorted(
            (line for _, part in found for line in part.body.decode().splitlines() if line),
            key=lambda line: tuple(line.split(",", 2)[:2]),
        )
        read = ",".join(f"{layout.stats_part_shard(key)}:{part.metadata.get(REVISION, 0)}" for key, part in found)
        body = (",".join(STATS_HEADER) + "\n" + "".join(line + "\n" for line in lines)).encode()
        return Blob(body, metadata={REVISION: read})

    store.update(layout.TRAFFIC_STATS_KEY, rebuilt, read_body=False)


def mark_consolidated(store: Store, raw_key: str, generation: int) -> None:
    def mark(status: FileStatus | None) -> FileStatus | None:
        if status is None or status.generation != generation or status.consolidated_generation >= generation:
            return None  # a newer generation is on its way and will be marked by its own message
        status.consolidated_generation = generation
        if status.state == SUMMARIZED:
            status.state = CONSOLIDATED
        return status

    store.update_status(raw_key, mark)
