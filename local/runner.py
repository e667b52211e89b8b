"""Emulation of one Lambda SQS event source mapping: run as its own process, with the function's
environment, and only the function archive and its layers on sys.path (see local.stack).

It long-polls the queue with the mapping's batch size, builds the Lambda SQS event, calls the
handler with a context whose remaining time follows the function timeout, deletes the records
that succeeded and leaves failed ones to the visibility timeout and the DLQ.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import threading
import time
import uuid
from typing import Any

import boto3


class LambdaJsonFormatter(logging.Formatter):
    """The shape of Lambda's JSON log format: the standard keys, plus every `extra` field at top level."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            **{k: v for k, v in vars(record).items() if k not in self.STANDARD},
        }
        if record.exc_info:
            line["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(line, default=str)


_handler = logging.StreamHandler()
_handler.setFormatter(LambdaJsonFormatter())
logging.basicConfig(level=logging.INFO, handlers=[_handler])
logging.getLogger("botocore").setLevel(logging.WARNING)
log = logging.getLogger("local.runner")
DUPLICATE = "local-duplicate"
"""Marks the copy the emulator sends of a message when it simulates duplicate delivery."""


class Context:
    def __init__(self, function_name: str, timeout: int, memory: int) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def poll(spec: dict[str, Any], handler: Any, stop: threading.Event) -> None:
    sqs = boto3.client("sqs")
    url, batch = spec["queue_url"], spec["batch_size"]
    while not stop.is_set():
        try:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(batch, 10),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception:
            if stop.is_set():
                return
            log.exception("receive failed")
            time.sleep(1)
            continue
        if not messages:
            continue
        if spec["duplicate_deliveries"]:
            for message in messages:
                if DUPLICATE not in message.get("MessageAttributes", {}):
                    attributes = {DUPLICATE: {"DataType": "String", "StringValue": "1"}}
                    sqs.send_message(QueueUrl=url, MessageBody=message["Body"], MessageAttributes=attributes)
        event = lambda_event(messages, spec["queue_arn"], spec["region"])
        failed: set[str] = set()
        try:
            response = handler(event, Context(spec["function_name"], spec["timeout"], spec["memory"]))
            if spec["report_batch_item_failures"] and isinstance(response, dict):
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised: the whole batch is retried", spec["handler"])
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    module_name, _, function = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workers = [threading.Thread(target=poll, args=(spec, handler, stop)) for _ in range(spec["workers"])]
    for worker in workers:
        worker.start()
    print(f"ready {spec['function_name']}", flush=True)
    for worker in workers:
        worker.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
