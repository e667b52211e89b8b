"""python -m clients.status: every file's state, rows kept and skipped by reason, and the DLQ depths."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from clients.common import (
    EXIT_FAILED,
    Stack,
    add_stack_arguments,
    branch_name,
    exit_codes,
    run_cli,
)
from clients.upload import describe
from core import layout
from core.layout import branch_of
from core.status import PENDING, STATES, FileStatus


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.status",
        description="List uploaded files with their state and row counts, and the dead-letter queue depths.",
        epilog=exit_codes((EXIT_FAILED, "AWS refused a request")),
    )
    parser.add_argument("--branch", type=branch_name, help="only this branch")
    parser.add_argument("--state", choices=STATES, help="only files in this state")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    stack = Stack.from_args(args)
    with stack.errors():
        show(stack, args.branch, args.state)
    return 0


def show(stack: Stack, branch: str | None, state: str | None) -> None:
    store = stack.store()
    statuses: dict[str, FileStatus] = {status.key: status for status in store.statuses()}
    for key, etag in store.etags(layout.RAW_PREFIX):
        if key not in statuses or statuses[key].etag != etag:
            statuses[key] = FileStatus.new(key)  # uploaded, not summarized yet
    now = time.time()
    shown = [
        status
        for key, status in sorted(statuses.items())
        if (not branch or branch_of(key) == branch) and (not state or status.shown_state(now) == state)
    ]
    for status in shown:
        print(describe(status) if status.shown_state(now) != PENDING else f"{status.key}: pending")
    print(f"{len(shown)} file(s)")
    sqs = stack.sqs()
    for name in ("ingest_dlq_url", "consolidate_dlq_url"):
        url = stack.outputs.get(name)
        if url:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            print(f"{name.removesuffix('_url')}: {attributes['Attributes']['ApproximateNumberOfMessages']} message(s)")


if __name__ == "__main__":
    raise SystemExit(main())
