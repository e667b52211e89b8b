"""python -m local up [--port N] [--outputs FILE] [--workers N]: the whole pipeline on this machine."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from local.stack import LocalStack

DEFAULT_OUTPUTS = "local-outputs.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the pipeline locally: moto's S3 and SQS on 127.0.0.1, the Pulumi program deployed "
        "onto it, and the Lambda event source mappings emulated. Runs in the foreground until Ctrl-C.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local stack in the foreground")
    up.add_argument("--port", type=int, default=0, help="port of the S3/SQS endpoint (default: a free one)")
    up.add_argument(
        "--outputs", default=DEFAULT_OUTPUTS, help=f"where to write the stack outputs JSON (default: {DEFAULT_OUTPUTS})"
    )
    up.add_argument("--workers", type=int, default=4, help="concurrent invocations per mapping (default: 4)")
    up.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Pulumi config value of the program, e.g. --config consolidateTimeout=10 (repeatable)",
    )
    up.add_argument(
        "--duplicate-deliveries",
        action="store_true",
        help="deliver every message twice, as SQS may, to exercise idempotency",
    )
    args = parser.parse_args(argv)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    config = dict(item.split("=", 1) for item in args.config if "=" in item)
    if len(config) != len(args.config):
        parser.error("--config takes KEY=VALUE")
    stack = LocalStack(port=args.port, workers=args.workers, config=config, duplicates=args.duplicate_deliveries)
    try:
        outputs = stack.start()
    except OSError as exc:
        raise SystemExit(f"cannot start the local stack: {exc}") from None
    try:
        text = json.dumps(outputs, indent=2, sort_keys=True)
        Path(args.outputs).write_text(text + "\n")
        print(text, flush=True)
        print(
            f"local stack up at {stack.endpoint}; outputs in {args.outputs}. "
            f"In another shell: export AWS_ENDPOINT_URL={stack.endpoint}",
            file=sys.stderr,
            flush=True,
        )
        stopped.wait()
    finally:
        stack.stop()
        Path(args.outputs).unlink(missing_ok=True)
    print("local stack stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
