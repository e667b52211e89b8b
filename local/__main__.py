"""python -m local up [--port N] [--outputs FILE] [--workers N]: the whole pipeline on this machine."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from local.faults import Delay, Faults
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
    up.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="chaos: fail this share of the functions' AWS calls, half before the request and half after it took effect",
    )
    up.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="chaos: add up to S seconds to every AWS call of the functions"
    )
    up.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="FUNCTION:OPERATION:MATCH:SECONDS[:TIMES]",
        help="hold the functions' OPERATION calls (e.g. PutObject) whose key or body contains MATCH, in functions "
        "whose name starts with FUNCTION, for SECONDS, at most TIMES times in all (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        delays = [Delay.parse(text) for text in args.delay]
    except ValueError as exc:
        parser.error(str(exc))

    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopped.set())
    config = dict(item.split("=", 1) for item in args.config if "=" in item)
    if len(config) != len(args.config):
        parser.error("--config takes KEY=VALUE")
    faults = Faults(failure_rate=args.failure_rate, max_latency=args.latency, delays=delays)
    stack = LocalStack(
        port=args.port, workers=args.workers, config=config, duplicates=args.duplicate_deliveries, faults=faults
    )
    try:
        outputs = stack.start()
    except OSError as exc:
        raise SystemExit(f"cannot start the local stack: {exc}") from None
    try:
        text = json.dumps(outputs, indent=2, sort_keys=True)
        outputs_file = Path(args.outputs).resolve()
        outputs_file.write_text(text + "\n")
        print(text, flush=True)
        print(
            f"local stack up at {stack.endpoint}. Clients run from this folder find it through {args.outputs}; "
            f"from elsewhere: export IOT_OUTPUTS={outputs_file}",
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
