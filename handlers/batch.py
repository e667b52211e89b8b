"""SQS batch processing with partial batch responses: one failed record never fails the others."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypedDict, TypeVar
from urllib.parse import unquote_plus

from storage.store import transient

logger = logging.getLogger("iot.handlers")
R = TypeVar("R")
ATTEMPTS = 3
RETRY_RESERVE_SECONDS = 10.0
"""A retry within the invocation starts only if this much time would be left after it."""


class RetryLater(Exception):
    """An expected condition (another invocation holds the file): the record is retried after the
    queue's visibility timeout. Logged at INFO without a traceback."""


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


class SqsRecord(TypedDict):
    messageId: str
    body: str


def process_batch(event: dict[str, Any], record_handler: Callable[[SqsRecord], None]) -> BatchResponse:
    failures: list[BatchItemFailure] = []
    for record in event.get("Records", []):
        try:
            record_handler(record)
        except RetryLater as exc:
            logger.info("record %s will be retried: %s", record.get("messageId"), exc, extra={"outcome": "retry"})
            failures.append({"itemIdentifier": record["messageId"]})
        except Exception:
            # outcome "failed" feeds the failed-records alarm (infra.alarms): Lambda does not count these as Errors.
            logger.exception(
                "record %s failed; it will be retried", record.get("messageId"), extra={"outcome": "failed"}
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


class S3Object(NamedTuple):
    key: str
    version_id: str
    """The version the event announced ("" in an unversioned bucket)."""


def s3_objects(body: str) -> Iterator[S3Object]:
    """Objects (keys URL-decoded) of the S3 notification in an SQS body; s3:TestEvent has no Records."""
    message = json.loads(body)
    for record in message.get("Records", []):
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            found = record["s3"]["object"]
            yield S3Object(unquote_plus(found["key"]), str(found.get("versionId") or ""))


def log_outcome(message: str, **fields: Any) -> None:
    """One log record per file. Under Lambda's JSON log format the `extra` fields become top-level
    keys of the JSON line, so operators can filter on them (e.g. in CloudWatch Logs Insights)."""
    logger.info(message, extra=fields)


def retrying(what: str, action: Callable[[int], R], context: Any) -> R:
    """action(attempt), tried again at once after a transient AWS failure (one botocore's own retries
    did not absorb) while the invocation has the time: every step of both handlers is idempotent, so
    this is what the redelivery would do, without first waiting out the queue's visibility timeout
    (6x the function's timeout). Anything else, or the last failure, is raised."""
    attempt = 1
    while True:
        started = time.monotonic()
        try:
            return action(attempt)
        except Exception as exc:
            took = time.monotonic() - started
            no_time = context.get_remaining_time_in_millis() / 1000 < 2 * took + RETRY_RESERVE_SECONDS
            if attempt == ATTEMPTS or no_time or not transient(exc):
                raise
            logger.warning(
                "%s failed (attempt %d of %d): %s; trying again",
                what,
                attempt,
                ATTEMPTS,
                exc,
                extra={"outcome": "retry"},
            )
        time.sleep(random.uniform(0.05, 0.25) * attempt)
        attempt += 1
