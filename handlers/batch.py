"""SQS batch processing with partial batch responses: one failed record never fails the others."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypedDict
from urllib.parse import unquote_plus

logger = logging.getLogger("iot.handlers")


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


def s3_object_keys(body: str) -> Iterator[str]:
    """Keys (URL-decoded) of the S3 notification in an SQS body; s3:TestEvent has no Records."""
    message = json.loads(body)
    for record in message.get("Records", []):
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            yield unquote_plus(record["s3"]["object"]["key"])


def log_outcome(message: str, **fields: Any) -> None:
    """One log record per file. Under Lambda's JSON log format the `extra` fields become top-level
    keys of the JSON line, so operators can filter on them (e.g. in CloudWatch Logs Insights)."""
    logger.info(message, extra=fields)
