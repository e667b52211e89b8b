"""Consolidate Lambda: event -> sources -> apply -> batch response (README, "The consolidated state").

A record is either a file to consolidate ({"key": raw key}, sent by summarize once the file's
generation is published) or a scheduled tick ({"tick": due}, sent by this function to its own queue,
delayed): the protocol itself is storage.consolidated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from core.status import CONSOLIDATED, SUMMARIZED, FileStatus
from handlers.batch import BatchResponse, SqsRecord, log_outcome, process_batch, retrying
from handlers.config import Settings, consolidate_settings
from storage.consolidated import NotVisibleYet, Source, State, TickOutcome, read_generation
from storage.store import Store, lambda_store

logger = logging.getLogger("iot.handlers")


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    settings = consolidate_settings()
    store = lambda_store(settings.bucket)
    sources: dict[str, Source] = {}
    messages: dict[str, list[str]] = {}
    ticks: list[str] = []
    seen: list[int] = []

    def record_handler(record: SqsRecord) -> None:
        body = json.loads(record["body"])
        if "tick" in body:
            ticks.append(record["messageId"])
            if "seen" in body:
                seen.append(body["seen"])
            return
        key = body["key"]
        source = retrying(f"reading {key}", lambda _: read_source(store, key), context)
        if source is not None:
            sources[source.status.key] = source
            messages.setdefault(source.status.key, []).append(record["messageId"])

    response = process_batch(event, record_handler)
    failed = response["batchItemFailures"]
    if sources:
        try:
            retrying(f"applying {len(sources)} file(s)", lambda n: apply_again(store, sources, n), context)
            retrying("scheduling the tick", lambda _: schedule_tick(store, settings), context)
        except Exception:
            logger.exception(
                "applying %d file(s) failed; their messages will be retried", len(sources), extra={"outcome": "failed"}
            )
            failed += [{"itemIdentifier": m} for ids in messages.values() for m in ids]
    if ticks:
        try:
            started = time.monotonic()
            done = retrying("tick", lambda _: tick(store, settings, seen), context)
            log_outcome(
                f"tick: {done.reason}",
                outcome="tick",
                rebuilt=done.rebuilt,
                lacking_changes=done.lacking,
                pairs=done.pairs,
                seconds=round(time.monotonic() - started, 3),
            )
        except Exception:
            logger.exception("the tick failed; it will be retried", extra={"outcome": "failed"})
            failed += [{"itemIdentifier": m} for m in ticks]
            # The tick clears the schedule before its work: schedule the next one now (unless one is
            # due; best effort), so that traffic_stats.csv converges even if this message spends its
            # receives and goes to the DLQ before another file arrives to schedule one.
            with contextlib.suppress(Exception):
                schedule_tick(store, settings)
    return response


def schedule_tick(store: Store, settings: Settings, seen: int | None = None) -> None:
    def send(message: dict[str, Any], delay: int) -> None:
        store.send(settings.consolidate_queue_url, message, delay)

    State(store).schedule_tick(send, settings.stats_rebuild_seconds, seen)


def tick(store: Store, settings: Settings, seen: Sequence[int]) -> TickOutcome:
    """The tick; a deferred one schedules the next, telling it what this one found lacking."""
    done = State(store).tick(seen, settings.stats_max_age_seconds)
    if done.reason == "deferred":
        schedule_tick(store, settings, done.lacking)
    return done


def apply_again(store: Store, sources: dict[str, Source], attempt: int) -> None:
    """apply_sources; a retry reads the sources again (a newer generation may have been published,
    or the failed attempt may have finished some)."""
    current = sources
    if attempt > 1:
        current = {key: found for key in sources if (found := read_source(store, key)) is not None}
    if current:
        apply_sources(store, list(current.values()))


def _skip(raw_key: str, reason: str) -> None:
    log_outcome("nothing to consolidate", outcome="skipped", key=raw_key, reason=reason)


def read_source(store: Store, raw_key: str) -> Source | None:
    """The file's published generation, or None when there is nothing (yet, or any more) to apply."""
    status = store.load_status(raw_key)
    if status is None:
        raise NotVisibleYet(f"{raw_key}: no status record, though summarize sent this message after writing it")
    if not status.published:
        _skip(raw_key, "no published generation yet (its publication sends its own message)")
        return None
    if status.consolidated_generation >= status.generation:
        return None
    source = read_generation(store, status)
    if source is None:
        _skip(raw_key, f"generation {status.generation} was superseded while reading (the newer one follows)")
    return source


def apply_sources(store: Store, sources: Sequence[Source]) -> None:
    """Apply each file's generation (its ledger; the deltas of all of them in one object per shard), fold
    the shards the writes picked (unless another invocation is folding one: the tick folds what is
    left), then mark the files consolidated: exports include them from now on."""
    started = time.monotonic()
    state = State(store)
    picked = state.apply_all([(s.status.source, s.status.generation, s.rows) for s in sources])
    for shard in sorted(picked):
        state.fold_unless_busy(shard)
    seconds = round(time.monotonic() - started, 3)
    for source in sources:
        mark_consolidated(store, source.status.key, source.status.generation)
        log_outcome(
            "consolidated",
            outcome="consolidated",
            key=source.status.key,
            generation=source.status.generation,
            days=len(source.rows),
            rows=sum(len(rows) for rows in source.rows.values()),
            batch=len(sources),
            seconds=seconds,
        )


def mark_consolidated(store: Store, raw_key: str, generation: int) -> None:
    def mark(status: FileStatus | None) -> FileStatus | None:
        if status is None or status.generation != generation or status.consolidated_generation >= generation:
            return None  # a newer generation is on its way and will be marked by its own message
        status.consolidated_generation = generation
        if status.state == SUMMARIZED:
            status.state = CONSOLIDATED
        return status

    store.update_status(raw_key, mark)
