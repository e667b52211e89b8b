"""One typed seam over the bucket (and the consolidate queue): reads, conditional updates, status records.

Every object the pipeline rewrites is changed with `update(key, change)`: read the object and its
ETag, compute the new body, write it with If-Match (or If-None-Match when absent), and on a lost
race (412/409) read again and retry, a bounded number of times with jittered exponential backoff.
Each write carries a random `write-id` in its metadata, so a 412 answering botocore's retry of a
PUT that had in fact succeeded is recognised as our own write and taken as success.

Key layout lives in core.layout; this module is the only place that talks to S3 about it.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core import layout
from core.consolidated import day_total_in, from_months, month_of, pair_name, part_of, span_in, taken_in
from core.flows import buffered
from core.stats import Days
from core.status import FileStatus

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
WRITE_ID = "write-id"
UPDATE_ATTEMPTS = 12
BACKOFF_BASE = 0.02
BACKOFF_CAP = 0.5


class Contention(Exception):
    """A conditional update lost every one of its attempts to concurrent writers."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestLimitExceeded"})


def transient(exc: BaseException) -> bool:
    """An AWS failure that may well not happen again: the network, a 5xx, throttling (what botocore's
    own retries absorb, when they ran out), as opposed to a refusal or a bug."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or error_code(exc) in THROTTLED
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


def backoff(attempt: int) -> float:
    """Full jitter: a random wait up to an exponentially growing cap."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


@dataclass(frozen=True)
class Blob:
    body: bytes
    etag: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    version_id: str = ""
    size: int = 0
    """The object's length (from HEAD; the body is empty then)."""


def _versioned(version_id: str) -> bool:
    """S3 answers VersionId "null" (or none) for an object of an unversioned bucket."""
    return bool(version_id) and version_id != "null"


Change = Callable[[Blob | None], Blob | None]
"""Given the current object (None: absent), the object to write, or None to leave it as it is."""


class Store:
    def __init__(self, bucket: str, s3: S3Client, sqs: SQSClient | None = None) -> None:
        self.bucket = bucket
        self.s3 = s3
        self._sqs = sqs
        self.sleep: Callable[[float], None] = time.sleep

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            raise RuntimeError("this store was made without a queue client")
        return self._sqs

    def get(self, key: str) -> Blob | None:
        """The object, or None if it does not exist."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ABSENT:
                return None
            raise
        with response["Body"] as body:
            return Blob(
                body.read(), response["ETag"], dict(response.get("Metadata", {})), response.get("VersionId", "")
            )

    def head(self, key: str) -> Blob | None:
        """The object's ETag and metadata without its body, or None."""
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ABSENT:
                return None
            raise
        return Blob(
            b"",
            response["ETag"],
            dict(response.get("Metadata", {})),
            response.get("VersionId", ""),
            response.get("ContentLength", 0),
        )

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=metadata or {})["ETag"]

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str) -> Iterator[str]:
        for key, _ in self.etags(prefix):
            yield key

    def etags(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, ETag) of every object under the prefix, from listings (no object is read)."""
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["ETag"]

    def put_if(self, key: str, blob: Blob, etag: str | None) -> str | None:
        """Write over exactly the version we read (etag), or only if absent (None). Returns the new ETag,
        or None when a concurrent writer won. A 412 on botocore's retry of our own successful write
        is recognised by its write-id."""
        write_id = uuid.uuid4().hex
        metadata = {**blob.metadata, WRITE_ID: write_id}
        try:
            if etag is None:
                response = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=blob.body, Metadata=metadata, IfNoneMatch="*"
                )
            else:
                response = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=blob.body, Metadata=metadata, IfMatch=etag
                )
        except ClientError as exc:
            if error_code(exc) not in LOST_RACE:
                raise
            current = self.head(key)
            if current is not None and current.metadata.get(WRITE_ID) == write_id:
                return current.etag
            return None
        return response["ETag"]

    def update(
        self, key: str, change: Change, *, read_body: bool = True, first: Blob | bool | None = False
    ) -> Blob | None:
        """Apply `change` to the object as a compare-and-swap, retried on lost races a bounded number of
        times. Returns what was written (with its ETag), or None when `change` left the object alone.
        With read_body=False, `change` sees only the ETag and metadata (for large objects it rebuilds).
        `first` (a Blob, or None for absent) is the object as the caller just read it: the first attempt
        starts from it instead of reading it again."""
        for attempt in range(UPDATE_ATTEMPTS):
            if attempt == 0 and first is not False:
                current = first if isinstance(first, Blob) else None
            else:
                current = self.get(key) if read_body else self.head(key)
            new = change(current)
            if new is None:
                return None
            etag = self.put_if(key, new, current.etag if current is not None else None)
            if etag is not None:
                return Blob(new.body, etag, new.metadata)
            self.sleep(backoff(attempt))
        raise Contention(f"{key}: lost {UPDATE_ATTEMPTS} conditional writes in a row to concurrent writers")

    def load_status(self, raw_key: str) -> FileStatus | None:
        found = self.get(layout.status_key(raw_key))
        return FileStatus.loads(found.body) if found is not None else None

    def update_status(
        self, raw_key: str, change: Callable[[FileStatus | None], FileStatus | None]
    ) -> FileStatus | None:
        """update() on the file's status record; returns the record written, or None if left alone."""
        written: list[FileStatus] = []

        def on_record(current: Blob | None) -> Blob | None:
            new = change(FileStatus.loads(current.body) if current is not None else None)
            if new is None:
                return None
            written[:] = [new]
            return Blob(new.dumps())

        return written[0] if self.update(layout.status_key(raw_key), on_record) is not None else None

    def statuses(self) -> Iterator[FileStatus]:
        return self.changed_statuses(layout.STATUS_PREFIX, {})

    def changed_statuses(self, prefix: str, seen: dict[str, str]) -> Iterator[FileStatus]:
        """The status records under the prefix whose ETag differs from `seen` (updated in place): one
        listing and one read per change, so following many files costs little."""
        for key, etag in self.etags(prefix):
            if seen.get(key) != etag:
                found = self.get(key)
                if found is not None:
                    seen[key] = found.etag
                    yield FileStatus.loads(found.body)

    def versions(self, key: str) -> list[str]:
        """Version ids of the object, newest first."""
        entries: list[Any] = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
            entries.extend(entry for entry in page.get("Versions", []) if entry["Key"] == key)
        return [entry["VersionId"] for entry in sorted(entries, key=lambda e: e["LastModified"], reverse=True)]

    def open_version(self, key: str, version_id: str) -> StreamingBody:
        """A stream of one version of an object (the current one in an unversioned bucket)."""
        if _versioned(version_id):
            return self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)["Body"]
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]

    def copy_version(self, key: str, version_id: str, target: str) -> None:
        """A managed copy (multipart above 8 MB) of one version of an object to another key."""
        source: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if _versioned(version_id):
            source["VersionId"] = version_id
        self.s3.copy(source, self.bucket, target)  # type: ignore[arg-type]

    def delete_through(self, key: str, version_id: str, etag: str) -> None:
        """Delete this version of the object and every older one, oldest first; never a newer upload.
        In an unversioned bucket: delete the object only if it is still the one with this ETag."""
        if not _versioned(version_id):
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            except ClientError as exc:
                if error_code(exc) not in LOST_RACE | ABSENT:
                    raise
            return
        self.delete_versions(key, self.versions_through(key, version_id))

    def versions_through(self, key: str, version_id: str) -> list[str]:
        """This version of the object and every older one, oldest first ([] when it is gone)."""
        versions = self.versions(key)
        if version_id not in versions:
            return []
        return list(reversed(versions[versions.index(version_id) :]))

    def delete_versions(self, key: str, versions: list[str]) -> None:
        for version in versions:
            self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version)

    def pair_days(self, src: str, dst: str) -> Days | None:
        """A pair's daily totals: its stats part, then the month parts of its span, then the day parts of
        the days those do not hold at the revision the stats part has taken (a few recent ones per
        month); only the pair's entry of each is parsed. The days are those of the pair's span that
        the stats part has taken (the days its statistics include), so a day being consolidated
        right now appears in the next export, with the statistics that include it."""
        name = pair_name(src, dst)
        part = part_of(name)
        found = self.get(layout.stats_part_key(part))
        span = span_in(found.body, name) if found is not None else None
        if found is None or span is None:
            return None
        taken = taken_in(found.body)
        dates = [date for date in sorted(taken) if span[0] <= date <= span[1]]
        months = sorted({month_of(date) for date in dates})
        with ThreadPoolExecutor(PARALLEL_READS) as pool:
            blobs = pool.map(self.get, [layout.month_part_key(month, part) for month in months])
            bodies = {month: blob.body if blob else None for month, blob in zip(months, blobs, strict=True)}
            days, unread = from_months(name, dates, taken, bodies)
            blobs = pool.map(self.get, [layout.day_part_key(date, part) for date in unread])
            for date, blob in zip(unread, blobs, strict=True):
                total = day_total_in(blob.body, name) if blob else None
                if total is not None:
                    days[date] = total
        return dict(sorted(days.items()))

    def delete_all(self, prefix: str) -> int:
        """Delete every current object under the prefix (1,000 per request); returns how many."""
        deleted = 0
        batch: list[str] = []
        for key in [*self.keys(prefix), None]:
            if key is not None:
                batch.append(key)
            if batch and (key is None or len(batch) == 1000):
                self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
                deleted += len(batch)
                batch = []
        return deleted

    def send(self, queue_url: str, message: dict[str, Any]) -> None:
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message, sort_keys=True))


PARALLEL_READS = 16


@functools.cache
def _client_of_process(pid: int) -> S3Client:
    import boto3

    return boto3.client("s3", config=RETRIES)


def open_object_at(bucket: str, key: str, version_id: str, offset: int) -> io.BufferedReader:
    """One version of an object from a byte offset (a ranged GET), with this process's own client: what
    each worker of a parallel summarize opens (core.ranges; a forked process must not share a client)."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if offset:
        params["Range"] = f"bytes={offset}-"
    if _versioned(version_id):
        params["VersionId"] = version_id
    body = _client_of_process(os.getpid()).get_object(**params)["Body"]
    return buffered(body, owns=True)


REQUIRED_PARAMETERS = {"PutObject": ("IfMatch", "IfNoneMatch"), "DeleteObject": ("IfMatch",)}
"""Parameters of recent S3 API versions the protocol relies on (conditional writes and deletes)."""


class OutdatedSdk(RuntimeError):
    """The runtime's botocore predates a parameter the handlers use."""


def check_sdk(s3: S3Client) -> None:
    """Fail at cold start, with the versions, if the runtime's bundled SDK lacks a parameter we use:
    AWS does not pin the boto3 of a Lambda runtime, and an unknown parameter would only fail later."""
    import boto3
    import botocore

    model = s3.meta.service_model
    missing = [
        f"{operation}.{name}"
        for operation, names in REQUIRED_PARAMETERS.items()
        for name in names
        if name not in getattr(model.operation_model(operation).input_shape, "members", {})
    ]
    if missing:
        raise OutdatedSdk(
            f"boto3 {boto3.__version__} / botocore {botocore.__version__} lack {', '.join(missing)}: "
            "deploy with a newer Lambda runtime (see README, 'The SDK in Lambda')"
        )


@functools.cache
def lambda_store(bucket: str) -> Store:
    """The store of a function invocation: clients made once per execution environment."""
    import boto3

    s3 = boto3.client("s3", config=RETRIES)
    check_sdk(s3)
    return Store(bucket, s3, boto3.client("sqs", config=RETRIES))
