"""Consolidate Lambda: applies a source's current summary to the pair shards, then rebuilds traffic_stats.csv.

Every write is a conditional write over the version that was read (optimistic concurrency), and
applying a source is idempotent and ordered by generation: duplicates, retries and concurrent
consolidators cannot lose or double an update (README, "Architecture").
"""

from __future__ import annotations

import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import layout
from core.shard import Row, ShardState, rows_by_shard
from core.stats import STATS_HEADER, write_traffic_stats
from core.status import CONSOLIDATED, SUMMARIZED
from core.summary import Totals, merge_into, read_summary
from handlers import aws
from handlers.batch import BatchResponse, SqsRecord, log_outcome, process_batch
from handlers.config import consolidate_settings

logging.getLogger().setLevel(logging.INFO)
PARALLEL_REQUESTS = 8


class SummaryMissing(Exception):
    """The summary changed under us (a newer generation is being written); retry later."""


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    bucket = consolidate_settings().bucket
    applied: list[tuple[str, int]] = []

    def record_handler(record: SqsRecord) -> None:
        message = json.loads(record["body"])
        result = apply_source(bucket, message["key"])
        if result is not None:
            applied.append(result)

    response = process_batch(event, record_handler)
    if applied:
        rebuild_traffic_stats(bucket)
        for key, generation in applied:
            mark_consolidated(bucket, key, generation)
    return response


def apply_source(bucket: str, raw_key: str) -> tuple[str, int] | None:
    """Make the shards hold the file's last summarized generation; returns (key, generation) applied."""
    started = time.monotonic()
    status, _ = aws.load_status(bucket, raw_key)
    if status is None or status.generation == 0:
        log_outcome("nothing to consolidate", outcome="skipped", key=raw_key, reason="no summarized generation")
        return None
    if status.consolidated_generation >= status.generation:
        return None
    totals: Totals = {}
    for date in status.dates:
        found = aws.get(bucket, layout.summary_key(date, status.source))
        if found is None:
            raise SummaryMissing(f"{raw_key}: summary for {date} is missing")
        merge_into(totals, read_summary(found[0].decode().splitlines()))
    by_shard = rows_by_shard(totals)
    shards = sorted(set(status.shards) | set(status.stale_shards) | set(by_shard))
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        list(
            pool.map(lambda n: apply_to_shard(bucket, n, status.source, status.generation, by_shard.get(n, [])), shards)
        )
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


def apply_to_shard(bucket: str, shard: int, source: str, generation: int, rows: list[Row]) -> None:
    key = layout.shard_key(shard)
    while True:
        found = aws.get(bucket, key)
        state = ShardState.loads(found[0]) if found else ShardState()
        if not state.apply(source, generation, rows):
            break
        if aws.put_if(bucket, key, state.dumps(), found[1] if found else None) is not None:
            break
    write_stats_part(bucket, shard, state)


def write_stats_part(bucket: str, shard: int, state: ShardState) -> None:
    """The shard's rows of traffic_stats.csv, never replaced by an older revision."""
    key = layout.stats_part_key(shard)
    text = io.StringIO()
    write_traffic_stats(text, state.pairs(), header=False)
    while True:
        current = aws.head(bucket, key)
        if current is not None and int(current.get("Metadata", {}).get("revision", -1)) >= state.revision:
            return
        etag = current["ETag"] if current else None
        body = text.getvalue().encode()
        if aws.put_if(bucket, key, body, etag, Metadata={"revision": str(state.revision)}) is not None:
            return


def rebuild_traffic_stats(bucket: str) -> None:
    """Concatenate the stats parts. Our parts were written before we read the ETag we replace, so the
    last successful rebuild has seen every part written before it: no update is left out."""
    while True:
        current = aws.head(bucket, layout.TRAFFIC_STATS_KEY)
        keys = [
            item["Key"]
            for page in aws.s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=layout.STATS_PARTS_PREFIX)
            for item in page.get("Contents", [])
        ]
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            parts = list(pool.map(lambda key: aws.get(bucket, key), keys))
        lines = sorted(
            (line for part in parts if part for line in part[0].decode().splitlines() if line),
            key=lambda line: tuple(line.split(",", 2)[:2]),
        )
        body = (",".join(STATS_HEADER) + "\n" + "".join(line + "\n" for line in lines)).encode()
        if aws.put_if(bucket, layout.TRAFFIC_STATS_KEY, body, current["ETag"] if current else None) is not None:
            return


def mark_consolidated(bucket: str, raw_key: str, generation: int) -> None:
    while True:
        status, etag = aws.load_status(bucket, raw_key)
        if status is None or status.generation != generation:
            return  # a newer generation is on its way and will be marked by its own message
        if status.consolidated_generation >= generation:
            return
        status.consolidated_generation = generation
        if status.state == SUMMARIZED:
            status.state = CONSOLIDATED
        if aws.put_if(bucket, layout.status_key(raw_key), status.dumps(), etag) is not None:
            return
