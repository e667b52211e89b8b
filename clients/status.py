"""python -m clients.status: every file's state, rows kept and skipped by reason, and the DLQ depths."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from clients.common import EXIT_CODES_HELP, Stack, add_stack_arguments, explain
from clients.upload import describe
from core.layout import RAW_PREFIX, STATUS_PREFIX, branch_of, raw_key_of_status
from core.status import PENDING, STATES, FileStatus


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.status",
        description="List uploaded files with their state and row counts, and the dead-letter queue depths.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--branch", help="only this branch")
    parser.add_argument("--state", choices=STATES, help="only files in this state")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    stack = Stack(args)
    try:
        s3 = stack.client("s3")
        pages = s3.get_paginator("list_objects_v2")
        statuses: dict[str, FileStatus] = {}
        for page in pages.paginate(Bucket=stack.bucket, Prefix=STATUS_PREFIX):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read()
                statuses[raw_key_of_status(item["Key"])] = FileStatus.loads(body)
        for page in pages.paginate(Bucket=stack.bucket, Prefix=RAW_PREFIX):
            for item in page.get("Contents", []):
                if item["Key"] not in statuses or statuses[item["Key"]].etag != item["ETag"]:
                    statuses[item["Key"]] = FileStatus.new(item["Key"])
        shown = [
            status
            for key, status in sorted(statuses.items())
            if (not args.branch or branch_of(key) == args.branch)
            and (not args.state or status.shown_state(time.time()) == args.state)
        ]
        for status in shown:
            print(describe(status) if status.state != PENDING else f"{status.key}: pending")
        print(f"{len(shown)} file(s)")
        sqs = stack.client("sqs")
        for name in ("ingest_dlq_url", "consolidate_dlq_url"):
            url = stack.outputs.get(name)
            if url:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                print(
                    f"{name.removesuffix('_url')}: {attributes['Attributes']['ApproximateNumberOfMessages']} message(s)"
                )
    except (BotoCoreError, ClientError) as exc:
        raise explain(exc, stack.bucket) from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
