"""Consolidate Lambda: applies the published generations of a batch of files to the consolidated state.

For the batch (README, "The consolidated state"):
1. each branch-day a file covers (or covered in an earlier generation) gets the file's rows at its
   generation;
2. each day part of those days folds the branch-days' new revisions;
3. each stats part takes those day parts' outboxes, and the month parts it finds due are compacted
   from their day parts;
4. traffic_stats.csv is rebuilt from the stats parts, unless it already includes their revisions;
5. the files' statuses are marked consolidated.

Every step is a bounded compare-and-swap (storage.Store.update) that is idempotent and ordered by
generation or revision, and a retry repeats every step (a no-op where it took effect), so duplicates,
retries, crashes between steps and concurrent consolidators converge to the same state. Only a
published generation is applied, after checking that every summary read carries that generation.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from core import layout
from core.consolidated import COMPACT_AFTER_DAYS, PART_COUNT, BranchDay, DayPart, MonthPart, SourceRow, StatsPart
from core.counts import Counts
from core.stats import Pair, PairStats, write_traffic_stats
from core.status import CONSOLIDATED, SUMMARIZED, FileStatus
from core.summary import read_summary
from handlers.batch import BatchResponse, SqsRecord, log_outcome, process_batch, retrying
from handlers.config import consolidate_settings
from storage.store import Blob, Store, lambda_store

PARALLEL_REQUESTS = 8
REVISION = "revision"
logger = logging.getLogger("iot.handlers")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Source:
    """A file's published generation as read from summaries/: its rows for every day it touches
    (an empty list for a day an earlier generation covered and this one does not)."""

    status: FileStatus
    rows: dict[str, list[SourceRow]]


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    settings = consolidate_settings()
    store = lambda_store(settings.bucket)
    sources: dict[str, Source] = {}
    messages: dict[str, list[str]] = {}

    def record_handler(record: SqsRecord) -> None:
        key = json.loads(record["body"])["key"]
        source = retrying(f"reading {key}", lambda _: read_source(store, key), context)
        if source is not None:
            sources[source.status.key] = source
            messages.setdefault(source.status.key, []).append(record["messageId"])

    response = process_batch(event, record_handler)
    if sources:
        try:
            apply_retrying(store, sources, settings.compact_after_days, context)
        except Exception:
            logger.exception(
                "applying %d file(s) failed; their messages will be retried", len(sources), extra={"outcome": "failed"}
            )
            response["batchItemFailures"] += [{"itemIdentifier": m} for ids in messages.values() for m in ids]
    return response


def apply_retrying(store: Store, sources: dict[str, Source], compact_after_days: int, context: Any) -> None:
    """apply_sources with `retrying`; a retry reads the sources again (a newer generation may have been
    published, or the failed attempt may have finished some)."""

    def attempt(number: int) -> None:
        current = sources
        if number > 1:
            current = {key: found for key in sources if (found := read_source(store, key)) is not None}
        if current:
            apply_sources(store, list(current.values()), compact_after_days)

    retrying(f"applying {len(sources)} file(s)", attempt, context)


def _skip(raw_key: str, reason: str) -> None:
    log_outcome("nothing to consolidate", outcome="skipped", key=raw_key, reason=reason)


def read_source(store: Store, raw_key: str) -> Source | None:
    """The file's published generation, or None when there is nothing (yet, or any more) to apply."""
    status = store.load_status(raw_key)
    if status is None or not status.published:
        _skip(raw_key, "no published generation yet (its publication sends its own message)")
        return None
    if status.consolidated_generation >= status.generation:
        return None
    source = read_generation(store, status)
    if source is None:
        _skip(raw_key, f"generation {status.generation} was superseded while reading (the newer one follows)")
    return source


def read_generation(store: Store, status: FileStatus) -> Source | None:
    """The summaries of the status's generation, or None if any of them has moved on to a newer one."""
    rows: dict[str, list[SourceRow]] = {date: [] for date in status.stale_dates}
    for date in status.dates:
        found = store.get(layout.summary_key(date, status.source))
        if found is None or found.metadata.get(layout.GENERATION) != str(status.generation):
            return None
        totals = read_summary(found.body.decode().splitlines())
        rows[date] = [[key.src, key.dst, *counts] for key, counts in sorted(totals.items())]
    return Source(status, rows)


def _parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        return list(pool.map(function, items))


Folds = dict[str, list[tuple[str, int, dict[int, dict[str, Counts]]]]]
"""day -> (branch tag, branch-day revision, the branch's totals by part) of each branch-day to fold"""


def apply_sources(store: Store, sources: Sequence[Source], compact_after_days: int = COMPACT_AFTER_DAYS) -> None:
    started = time.monotonic()
    groups: dict[tuple[str, str], list[Source]] = {}
    for source in sources:
        for date in source.rows:
            groups.setdefault((date, source.status.branch), []).append(source)
    folds: Folds = {}
    ledgers = _parallel(lambda group: update_ledger(store, *group), groups.items())
    for (date, _), (tag, ledger) in zip(groups, ledgers, strict=True):
        folds.setdefault(date, []).append((tag, ledger.revision, ledger.totals_by_part()))
    touched = sorted({part for ledgers in folds.values() for _, _, totals in ledgers for part in totals})
    revisions = _parallel(lambda part: update_part(store, part, folds, compact_after_days), touched)
    rebuild_traffic_stats(store, dict(zip(touched, revisions, strict=True)))
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


def update_ledger(store: Store, date_branch: tuple[str, str], sources: list[Source]) -> tuple[str, BranchDay]:
    """Give the branch-day each source's rows of that day at its generation; returns the ledger as it is now."""
    date, branch = date_branch
    key = layout.ledger_key(date, branch)
    state = BranchDay()

    def apply(current: Blob | None) -> Blob | None:
        nonlocal state
        state = BranchDay.loads(current.body) if current is not None else BranchDay()
        changed = [state.apply(s.status.source, s.status.generation, s.rows[date]) for s in sources]
        return Blob(state.dumps()) if any(changed) else None

    store.update(key, apply)
    return layout.branch_tag(key), state


def update_part(store: Store, part: int, folds: Folds, compact_after_days: int) -> int:
    """Fold the branch-days into this part number's day parts, have its stats part take their outboxes,
    then compact the month parts that became due; returns the stats part's revision."""
    stats_key = layout.stats_part_key(part)
    first = store.get(stats_key)
    known = StatsPart.loads(first.body) if first is not None else StatsPart()
    days = {
        date: fold_day(store, date, part, here, known.taken.get(date, 0))
        for date, ledgers in folds.items()
        if (here := [ledger for ledger in ledgers if part in ledger[2]])
    }
    stats = StatsPart()
    due: dict[str, dict[str, int]] = {}

    def take(current: Blob | None) -> Blob | None:
        nonlocal stats, due
        stats = StatsPart.loads(current.body) if current is not None else StatsPart()
        changed = [stats.take(date, day) for date, day in days.items()]
        due = stats.due(compact_after_days) if any(changed) else {}
        return Blob(stats.dumps()) if any(changed) else None

    store.update(stats_key, take, first=first)
    for month, taken in due.items():
        compact_month(store, month, part, taken, days)
    return stats.revision


def compact_month(store: Store, month: str, part: int, taken: dict[str, int], known: dict[str, DayPart]) -> None:
    """Set each day of the month part that is older than the revision the stats part has taken from its
    day part (read now, or the one this invocation just wrote). The month part is only a faster way to
    the day parts: a crash before this write leaves days an export reads from their day parts, and
    the month's next compaction takes them."""

    def read(date: str) -> Blob | None:
        return store.get(layout.day_part_key(date, part))

    def compact(current: Blob | None) -> Blob | None:
        state = MonthPart.loads(current.body) if current is not None else MonthPart()
        stale = [date for date, revision in sorted(taken.items()) if revision > state.revisions.get(date, 0)]
        days = {date: known[date] for date in stale if date in known and known[date].revision >= taken[date]}
        unread = [date for date in stale if date not in days]
        for date, blob in zip(unread, _parallel(read, unread), strict=True):
            if blob is not None:
                days[date] = DayPart.loads(blob.body)
        changed = [state.set_day(date, day) for date, day in sorted(days.items())]
        return Blob(state.dumps()) if any(changed) else None

    store.update(layout.month_part_key(month, part), compact)


def fold_day(
    store: Store, date: str, part: int, ledgers: list[tuple[str, int, dict[int, dict[str, Counts]]]], taken: int
) -> DayPart:
    """Fold the branch-days' revisions into the day part; returns it as it is now."""
    day = DayPart()

    def fold(current: Blob | None) -> Blob | None:
        nonlocal day
        day = DayPart.loads(current.body) if current is not None else DayPart()
        changed = [day.fold(tag, revision, totals[part], taken) for tag, revision, totals in ledgers]
        return Blob(day.dumps()) if any(changed) else None

    store.update(layout.day_part_key(date, part), fold)
    return day


def _revisions(text: str) -> dict[int, int]:
    return {int(part): int(revision) for part, revision in (item.split(":") for item in text.split(",") if item)}


def rebuild_traffic_stats(store: Store, revisions: dict[int, int]) -> None:
    """Write traffic_stats.csv from the stats parts, unless it already includes the revisions given.

    Each rebuild records the revision of every part it read. Our parts were written before update()
    reads the ETag it replaces, so when our write loses a race, the winner (or a later rebuild) has
    either read our revisions, which its metadata then says, or we rebuild again: the last rebuild
    has seen every part written before it."""

    def rebuilt(current: Blob | None) -> Blob | None:
        if current is not None:
            included = _revisions(current.metadata.get(REVISION, ""))
            if all(included.get(part, -1) >= revision for part, revision in revisions.items()):
                return None
        found = _parallel(store.get, [layout.stats_part_key(part) for part in range(PART_COUNT)])
        pairs: dict[Pair, PairStats] = {}
        read = []
        for part, blob in enumerate(found):
            state = StatsPart.loads(blob.body) if blob is not None else StatsPart()
            pairs.update(state.stats())
            read.append(f"{part}:{state.revision}")
        text = io.StringIO()
        write_traffic_stats(text, pairs)
        return Blob(text.getvalue().encode(), metadata={REVISION: ",".join(read)})

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
