"""Summarize Lambda: raw/ flow file -> summaries/dt=*/, status/, a consolidate message; then the raw file goes.

Per source file, one invocation at a time holds a lease in its status record (a conditional
write), so concurrent deliveries and re-uploads of the same name are applied one after another.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import time
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from core import layout
from core.flows import FileSummary, RejectedFile, summarize_stream
from core.shard import rows_by_shard, totals_by_date
from core.status import REJECTED, SUMMARIZED, FileStatus
from core.summary import write_summary
from handlers import aws
from handlers.batch import BatchResponse, SqsRecord, log_outcome, process_batch, s3_object_keys
from handlers.config import Settings, summarize_settings

logging.getLogger().setLevel(logging.INFO)
LEASE_PER_REMAINING_TIME = 2
"""Lambda stops a function at its timeout, so twice the remaining time outlives the invocation, and a
redelivery (after the queue's visibility timeout, 6 x the function timeout) finds the lease expired."""


class Busy(Exception):
    """Another invocation holds this file's lease; the message is retried after its visibility timeout."""


class LeaseLost(Exception):
    """Our lease expired and another invocation took the file over."""


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    settings = summarize_settings()

    def record_handler(record: SqsRecord) -> None:
        for key in s3_object_keys(record["body"]):
            if layout.is_raw(key):
                lease = LEASE_PER_REMAINING_TIME * context.get_remaining_time_in_millis() / 1000
                summarize_object(settings, key, lease)

    return process_batch(event, record_handler)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def claim(bucket: str, raw_key: str, lease_seconds: float) -> tuple[FileStatus, str]:
    """Take the file's lease; returns the status as it was and the ETag of our claim."""
    while True:
        previous, etag = aws.load_status(bucket, raw_key)
        previous = previous or FileStatus.new(raw_key)
        now = time.time()
        if previous.lease_until > now:
            raise Busy(f"{raw_key} is being summarized by another invocation")
        # The claim changes only the lease: readers keep seeing the last committed state. Any other
        # write to the record (the consolidator marking it) makes our final commit fail: we retry.
        claimed = replace(previous, lease_until=now + lease_seconds, updated_at=_now())
        claim_etag = aws.put_if(bucket, layout.status_key(raw_key), claimed.dumps(), etag)
        if claim_etag is not None:
            return previous, claim_etag


def summarize_object(settings: Settings, raw_key: str, lease_seconds: float) -> FileStatus | None:
    bucket = settings.bucket
    if aws.head(bucket, raw_key) is None:
        return None  # already summarized and deleted: a duplicate delivery
    started = time.monotonic()
    previous, claim_etag = claim(bucket, raw_key, lease_seconds)
    status_key = layout.status_key(raw_key)
    try:
        response = aws.s3().get_object(Bucket=bucket, Key=raw_key)
    except ClientError as exc:
        if aws.error_code(exc) not in aws.NOT_FOUND:
            raise
        aws.put_if(bucket, status_key, replace(previous, lease_until=0.0).dumps(), claim_etag)
        return None
    version_id = response.get("VersionId")
    summary: FileSummary | None = None
    reason = ""
    with response["Body"] as body:
        try:
            summary = summarize_stream(body)
        except RejectedFile as exc:
            reason = str(exc)

    status = _next_status(previous, summary, reason, response["ETag"])
    if summary is None:
        aws.s3().copy(
            {"Bucket": bucket, "Key": raw_key, **({"VersionId": version_id} if version_id else {})},
            bucket,
            layout.rejected_key(raw_key),
        )
    else:
        for date, totals in totals_by_date(summary.totals).items():
            text = io.StringIO()
            write_summary(text, totals)
            aws.s3().put_object(Bucket=bucket, Key=layout.summary_key(date, status.source), Body=text.getvalue())
    for date in sorted(set(previous.dates) - set(status.dates)):
        aws.s3().delete_object(Bucket=bucket, Key=layout.summary_key(date, status.source))

    if aws.put_if(bucket, status_key, status.dumps(), claim_etag) is None:
        raise LeaseLost(f"{raw_key}: the lease expired and another invocation took over")
    aws.sqs().send_message(
        QueueUrl=settings.consolidate_queue_url,
        MessageBody=json.dumps({"key": raw_key, "generation": status.generation}),
    )
    if settings.delete_raw or summary is None:
        delete_versions(bucket, raw_key, version_id, response["ETag"])
    log_outcome(
        "summarized" if summary is not None else "rejected",
        outcome="summarized" if summary is not None else "rejected",
        key=raw_key,
        generation=status.generation,
        rows_read=status.rows_read,
        rows_kept=status.rows_kept,
        skipped=status.skipped,
        reason=status.reason,
        days=len(status.dates),
        pairs=len({(src, dst) for _, src, dst in summary.totals}) if summary else 0,
        seconds=round(time.monotonic() - started, 3),
    )
    return status


def _next_status(previous: FileStatus, summary: FileSummary | None, reason: str, etag: str) -> FileStatus:
    totals = summary.totals if summary is not None else {}
    shards = sorted(rows_by_shard(totals))
    touched = set(previous.shards) | set(previous.stale_shards)
    return replace(
        previous,
        state=SUMMARIZED if summary is not None else REJECTED,
        generation=previous.generation + 1,
        etag=etag,
        dates=sorted({date for date, _, _ in totals}),
        shards=shards,
        stale_shards=sorted(touched - set(shards)),
        rows_read=summary.rows_read if summary else 0,
        rows_kept=summary.rows_kept if summary else 0,
        skipped=dict(summary.skipped) if summary else {},
        reason=reason,
        lease_until=0.0,
        updated_at=_now(),
    )


def delete_versions(bucket: str, raw_key: str, version_id: str | None, etag: str) -> None:
    """Delete the version we summarized and every older one, oldest first; never a newer upload."""
    if not version_id or version_id == "null":
        aws.s3().delete_object(Bucket=bucket, Key=raw_key, IfMatch=etag)
        return
    entries: list[dict[str, Any]] = []
    paginator = aws.s3().get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=raw_key):
        entries.extend(entry for entry in page.get("Versions", []) if entry["Key"] == raw_key)
    versions = [entry["VersionId"] for entry in sorted(entries, key=lambda e: e["LastModified"], reverse=True)]
    if version_id not in versions:
        return
    older_first = list(reversed(versions[versions.index(version_id) :]))
    for version in older_first:
        aws.s3().delete_object(Bucket=bucket, Key=raw_key, VersionId=version)
