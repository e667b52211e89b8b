"""boto3 clients created lazily, and the conditional-write primitives the handlers are built on."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core import layout
from core.status import FileStatus

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


@functools.cache
def s3() -> Any:
    return boto3.client("s3", config=RETRIES)


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs", config=RETRIES)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def get(bucket: str, key: str) -> tuple[bytes, str] | None:
    """The object's bytes and ETag, or None if it does not exist."""
    try:
        response = s3().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise
    with response["Body"] as body:
        return body.read(), response["ETag"]


def head(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(s3().head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise


def put_if(bucket: str, key: str, body: bytes, etag: str | None, **extra: Any) -> str | None:
    """Write only over the version we read (etag), or only if absent (None). None when we lost a race."""
    condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
    try:
        response = s3().put_object(Bucket=bucket, Key=key, Body=body, **condition, **extra)
    except ClientError as exc:
        if error_code(exc) in LOST_RACE:
            return None
        raise
    return str(response["ETag"])


def load_status(bucket: str, raw_key: str) -> tuple[FileStatus | None, str | None]:
    """A raw file's status record and its ETag, or (None, None) if it has none yet."""
    found = get(bucket, layout.status_key(raw_key))
    if found is None:
        return None, None
    return FileStatus.loads(found[0]), found[1]
