"""Summarize Lambda: raw/ flow file -> status commit -> summaries/dt=*/ -> consolidate message; then the raw file goes.

The protocol (README, "The protocol"): one invocation at a time holds a file's lease in its status
record. It summarizes the current version, commits a new generation in the record (still holding
the lease), publishes that generation's summaries and deletes stale ones, marks the generation
published and releases the lease, sends the consolidate message, and deletes the raw versions it
summarized. Nothing is written under summaries/ before the commit, so nothing a consolidator reads
can belong to an uncommitted attempt; a crash at any step is finished by the next delivery.

Before the commit, a file whose content counts claims the content's record (content/<sha256>.json);
when another live file's current generation has that content, this one is rejected as a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import logging
import math
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from core import layout, ranges
from core.flows import FileSummary, RejectedFile, summarize_stream
from core.ranges import usable_cores
from core.status import (
    DUPLICATE,
    REJECTED,
    SAME_CONTENT,
    SUMMARIZED,
    WAIT,
    ContentRecord,
    FileStatus,
    content_claim,
)
from core.summary import write_table
from core.table import DailyTotals
from handlers.batch import (
    BatchResponse,
    RetryLater,
    SqsRecord,
    log_outcome,
    process_batch,
    retrying,
    s3_objects,
)
from handlers.config import Settings, summarize_settings
from storage.store import Blob, Store, lambda_store, open_object_at

logger = logging.getLogger("iot.handlers")

LEASE_PER_REMAINING_TIME = 2
"""Lambda stops a function at its timeout, so twice the remaining time outlives the invocation, and a
redelivery (after the queue's visibility timeout, 6 x the function timeout) finds the lease expired."""


class Busy(RetryLater):
    """Another invocation holds this file's lease."""


class LeaseLost(Exception):
    """Our lease expired and another invocation took the file over."""


class Unseen(RetryLater):
    """S3 answered 404 for an object or status record that exists (as S3 may for a while after
    versioning is enabled on a bucket): the record is retried, and lands in the DLQ if it persists."""


MB_PER_VCPU = 1769
"""Lambda gives a function one vCPU per 1,769 MB of memory (up to 6 at 10,240 MB)."""


def jobs_for(context: Any) -> int:
    """Processes a large object is summarized with: the vCPUs the function's memory buys."""
    memory = int(getattr(context, "memory_limit_in_mb", 0) or 0)
    return max(1, min(usable_cores(), math.ceil(memory / MB_PER_VCPU)))


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    settings = summarize_settings()
    store = lambda_store(settings.bucket)
    jobs = jobs_for(context)

    def record_handler(record: SqsRecord) -> None:
        for key, version_id in s3_objects(record["body"]):
            if layout.is_raw(key):
                token = uuid.uuid4().hex  # kept by a retry within the invocation: the lease stays ours

                def attempt(
                    _: int, key: str = key, version_id: str = version_id, token: str = token
                ) -> FileStatus | None:
                    lease = LEASE_PER_REMAINING_TIME * context.get_remaining_time_in_millis() / 1000
                    return summarize_object(store, settings, key, lease, jobs, token, version_id)

                try:
                    retrying(f"summarizing {key}", attempt, context)
                except Exception:
                    # The record fails and will be redelivered: give the lease up now, so that neither
                    # the redelivery nor a re-upload's event waits for it to expire (a crash still
                    # leaves it to expire). Best effort: the failure reported is the one above.
                    with contextlib.suppress(Exception):
                        _drop_lease(store, key, token)
                    raise

    return process_batch(event, record_handler)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Upload:
    """One version of a raw object, as the status record identifies it."""

    version_id: str
    etag: str
    upload_id: str
    size: int = 0

    @classmethod
    def of(cls, blob: Blob) -> Upload:
        return cls(blob.version_id, blob.etag, blob.metadata.get(layout.UPLOAD_ID, ""), blob.size)

    def summarized_in(self, status: FileStatus | None) -> bool:
        return (
            status is not None
            and status.published
            and (status.version_id, status.etag, status.upload_id) == (self.version_id, self.etag, self.upload_id)
        )


def summarize_object(
    store: Store,
    settings: Settings,
    raw_key: str,
    lease_seconds: float,
    jobs: int = 1,
    token: str = "",
    version_id: str = "",
) -> FileStatus | None:
    """Summarize the current version of a raw object; `version_id` is the one the event announced."""
    problem = layout.key_problem(raw_key)
    if problem:
        log_outcome("rejected", outcome="rejected", key=raw_key, reason=problem)
        return None
    current = store.head(raw_key)
    if current is None:
        return already_done(store, raw_key, version_id)
    upload = Upload.of(current)
    status = store.load_status(raw_key)
    if upload.summarized_in(status):
        assert status is not None
        finish(store, settings, status)  # a duplicate, or a redelivery after a crash past the commit
        return status
    started = time.monotonic()
    token = token or uuid.uuid4().hex

    def take_lease(previous: FileStatus | None) -> FileStatus | None:
        nonlocal status
        status = previous = previous or FileStatus.new(raw_key)
        now = time.time()
        if previous.leased(now) and previous.lease_token != token:
            raise Busy(f"{raw_key} is being summarized by another invocation")
        if upload.summarized_in(previous):
            return None
        return replace(previous, lease_until=now + lease_seconds, lease_token=token, updated_at=_now())

    if store.update_status(raw_key, take_lease) is None:
        assert status is not None  # published by another invocation since we looked: finish it
        finish(store, settings, status)
        return status

    summary: FileSummary | None = None
    reason = ""
    try:
        summary = read_version(store, raw_key, upload, settings, jobs)
    except RejectedFile as exc:
        reason = str(exc)
    digest = summary.digest if summary is not None else ""
    if summary is not None:
        owner = claim_content(store, raw_key, digest, token)
        if owner:
            summary, reason = None, f"{SAME_CONTENT}{owner}"
    if summary is None:
        store.copy_version(raw_key, upload.version_id, layout.rejected_key(raw_key))
    replaced = ""

    def commit(previous: FileStatus | None) -> FileStatus:
        nonlocal replaced
        previous = _ours(raw_key, previous, token)
        new = _next_status(previous, summary, digest if summary is not None else "", reason, upload)
        replaced = previous.digest if previous.digest != new.digest else ""
        return new

    committed = store.update_status(raw_key, commit)
    assert committed is not None
    if replaced:
        release_content(store, raw_key, replaced)
    publish(store, committed, summary)

    def release(previous: FileStatus | None) -> FileStatus:
        previous = _ours(raw_key, previous, token)
        if previous.generation != committed.generation:
            raise LeaseLost(f"{raw_key}: the lease expired and another invocation took over")
        return replace(
            previous,
            published_generation=committed.generation,
            published_dates=committed.dates,
            lease_until=0.0,
            lease_token="",
            updated_at=_now(),
        )

    released = store.update_status(raw_key, release)
    assert released is not None
    finish(store, settings, released)
    log_outcome(
        "summarized" if summary is not None else "rejected",
        outcome="summarized" if summary is not None else "rejected",
        key=raw_key,
        generation=released.generation,
        rows_read=released.rows_read,
        rows_kept=released.rows_kept,
        skipped=released.skipped,
        reason=released.reason,
        duration_unit=released.duration_unit,
        unit_evidence=released.unit_evidence,
        layout=released.layout,
        layout_evidence=released.layout_evidence,
        days=len(released.dates),
        pairs=summary.table.pair_count() if summary else 0,
        seconds=round(time.monotonic() - started, 3),
    )
    return released


def already_done(store: Store, raw_key: str, version_id: str) -> FileStatus:
    """The raw object is gone (404): a duplicate delivery if the status shows the version the event
    announced (any version, for an event with none) summarized or superseded; otherwise S3 answered too
    early, and the record is retried rather than acknowledged."""
    status = store.load_status(raw_key)
    if status is not None and (status.covers(version_id) if version_id else status.published):
        return status
    shown = "no status record" if status is None else f"the status shows version {status.version_id!r}"
    logger.warning(
        "%s: S3 answered 404 for version %r, and %s; retrying the record",
        raw_key,
        version_id,
        shown,
        extra={"outcome": "retry", "key": raw_key, "version_id": version_id},
    )
    raise Unseen(f"{raw_key}: version {version_id or '(current)'} not visible yet and not summarized ({shown})")


def _ours(raw_key: str, status: FileStatus | None, token: str) -> FileStatus:
    """The status record, which this invocation leased: a missing one is a 404 S3 answered too early."""
    if status is None:
        raise Unseen(f"{raw_key}: the status record this invocation leased reads as missing")
    if status.lease_token != token:
        raise LeaseLost(f"{raw_key}: the lease expired and another invocation took over")
    return status


def claim_content(store: Store, raw_key: str, digest: str, token: str) -> str:
    """Make this file the owner of its content's record (a conditional write): "" once it is, or the raw
    key of the live file whose current generation has the same content. Raises Busy (after giving up
    this file's lease) while the record's owner is being summarized and may be about to commit it."""
    duplicate = ""

    def claim(current: Blob | None) -> Blob | None:
        nonlocal duplicate
        record = ContentRecord.loads(current.body) if current is not None else None
        named = record.owner if record is not None else ""
        owner = store.load_status(named) if named and named != raw_key else None
        decision = content_claim(raw_key, record, owner, digest, time.time())
        if decision == WAIT:
            _drop_lease(store, raw_key, token)
            raise Busy(f"{raw_key}: same content as {named}, which is being summarized; deciding later")
        duplicate = named if decision == DUPLICATE else ""
        return None if duplicate else Blob(ContentRecord(raw_key, token).dumps())

    store.update(layout.content_key(digest), claim)
    return duplicate


def release_content(store: Store, raw_key: str, digest: str) -> None:
    """Free the record of a content this file no longer has, unless another file has taken it over. A
    release lost to a crash is harmless: a claimant takes over a record whose owner does not hold it."""

    def release(current: Blob | None) -> Blob | None:
        if current is None or ContentRecord.loads(current.body).owner != raw_key:
            return None
        return Blob(ContentRecord().dumps())

    store.update(layout.content_key(digest), release)


def _drop_lease(store: Store, raw_key: str, token: str) -> None:
    def drop(previous: FileStatus | None) -> FileStatus | None:
        if previous is None or previous.lease_token != token:
            return None
        return replace(previous, lease_until=0.0, lease_token="", updated_at=_now())

    store.update_status(raw_key, drop)


def publish(store: Store, status: FileStatus, summary: FileSummary | None) -> None:
    """Write the committed generation's summaries (tagged with it) and delete every other day's."""
    metadata = {layout.GENERATION: str(status.generation)}
    table = summary.table if summary else DailyTotals()
    for date in table.dates():
        body = io.BytesIO()
        write_table(body, table, [date])
        store.put(layout.summary_key(date, status.source), body.getvalue(), metadata)
    for date in sorted(set(status.published_dates) - set(status.dates)):
        store.delete(layout.summary_key(date, status.source))


def read_version(store: Store, raw_key: str, upload: Upload, settings: Settings, jobs: int) -> FileSummary:
    """Summarize exactly the version claimed, within the stack's date limits: streamed, or in byte
    ranges on `jobs` processes when it is large enough (core.ranges; the same result and digest)."""
    if jobs > 1 and upload.size >= 2 * ranges.MIN_BYTES_PER_JOB:
        opener = functools.partial(open_object_at, store.bucket, raw_key, upload.version_id)
        return ranges.summarize_ranges(opener, upload.size, jobs, limits=settings.date_limits)
    with store.open_version(raw_key, upload.version_id) as body:
        return summarize_stream(body, limits=settings.date_limits)


def finish(store: Store, settings: Settings, status: FileStatus) -> None:
    """What follows a published generation; idempotent, so a redelivery may repeat it. The older raw
    versions deleted with the one summarized are recorded first: a late event for one is then done."""
    if status.consolidated_generation < status.generation:
        store.send(settings.consolidate_queue_url, {"key": status.key})
    if not (settings.delete_raw or status.state == REJECTED):
        return
    if not status.version_id or status.version_id == "null":
        store.delete_through(status.key, status.version_id, status.etag)
        return
    versions = store.versions_through(status.key, status.version_id)
    superseded = [v for v in versions if v != status.version_id and v not in status.earlier_versions]
    if superseded:

        def remember(previous: FileStatus | None) -> FileStatus | None:
            if previous is None or set(superseded) <= set(previous.earlier_versions):
                return None
            return replace(previous, earlier_versions=previous.with_earlier(superseded))

        store.update_status(status.key, remember)
    store.delete_versions(status.key, versions)


def _next_status(
    previous: FileStatus, summary: FileSummary | None, digest: str, reason: str, upload: Upload
) -> FileStatus:
    dates = summary.table.dates() if summary is not None else []
    touched = set(previous.dates) | set(previous.stale_dates)
    earlier = [v for v in previous.with_earlier([previous.version_id]) if v != upload.version_id]
    return replace(
        previous,
        state=SUMMARIZED if summary is not None else REJECTED,
        generation=previous.generation + 1,
        version_id=upload.version_id,
        upload_id=upload.upload_id,
        etag=upload.etag,
        digest=digest,
        earlier_versions=earlier,
        dates=dates,
        published_dates=sorted(set(previous.published_dates) | set(dates)),
        stale_dates=sorted(touched - set(dates)),
        rows_read=summary.rows_read if summary else 0,
        rows_kept=summary.rows_kept if summary else 0,
        skipped=dict(summary.skipped) if summary else {},
        reason=reason,
        duration_unit=summary.unit.unit if summary else "",
        unit_evidence=summary.unit.evidence if summary else "",
        layout=summary.layout.layout if summary else "",
        layout_evidence=summary.layout.evidence if summary else "",
        updated_at=_now(),
    )
