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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core import layout
from core.flows import buffered
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

    def sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size in bytes) of every object under the prefix, from listings (no object is read)."""
        for item in self._listed(prefix):
            yield item["Key"], item["Size"]

    def etags(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, ETag) of every object under the prefix, from listings (no object is read)."""
        for item in self._listed(prefix):
            yield item["Key"], item["ETag"]

    def _listed(self, prefix: str) -> Iterator[Any]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

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

    def get_range(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes [start, end) of the object (fewer at its end), or None if it does not exist."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
        except ClientError as exc:
            if error_code(exc) in ABSENT:
                return None
            raise
        with response["Body"] as body:
            data: bytes = body.read()
            return data

    def upload_file(self, path: str, key: str, metadata: dict[str, str]) -> None:
        """A managed (multipart above 8 MB) upload of a local file."""
        self.s3.upload_file(path, self.bucket, key, ExtraArgs={"Metadata": metadata})

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete these objects (1,000 per request)."""
        for first in range(0, len(keys), 1000):
            batch = keys[first : first + 1000]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})

    def delete_all(self, prefix: str) -> int:
        """Delete every current object under the prefix (1,000 per request); returns how many."""
        keys = list(self.keys(prefix))
        self.delete_keys(keys)
        return len(keys)

    def send(self, queue_url: str, message: dict[str, Any], delay: int = 0) -> None:
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message, sort_keys=True), DelaySeconds=delay)


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
