"""python -m local up|down: the whole pipeline on this machine (see --help)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from local.faults import Delay, Faults
from local.parentwatch import exit_with_parent
from local.stack import LocalStack

DEFAULT_OUTPUTS = "local-outputs.json"


STARTUP_SECONDS = 120


def start_detached(arguments: list[str], outputs: Path) -> int:
    if outputs.exists():
        raise SystemExit(f"{outputs} exists: a local stack may be running (`python -m local down`), or delete it")
    log = outputs.resolve().parent / "local-stack.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", *arguments], stdout=sink, stderr=sink, start_new_session=True
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while not outputs.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()
            raise SystemExit(f"the local stack did not start; see {log}")
        time.sleep(0.2)
    print(f"local stack up (pid {process.pid}); outputs in {outputs}, logs in {log}; stop: python -m local down")
    return 0


def stop_detached(outputs: Path) -> int:
    if not outputs.exists():
        raise SystemExit(f"no {outputs}: no local stack runs from this folder")
    pid = int(json.loads(outputs.read_text()).get("pid", 0))
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        outputs.unlink()
        print(f"no process {pid}: removed the stale {outputs}")
        return 0
    deadline = time.monotonic() + 60
    while outputs.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print("local stack stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the pipeline locally: moto's S3 and SQS on 127.0.0.1, the Pulumi program deployed "
        "onto it, and the Lambda event source mappings emulated.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="start the local stack (in the foreground until Ctrl-C, or in the background with --detach)"
    )
    down = commands.add_parser("down", help="stop a local stack started with --detach")
    down.add_argument(
        "--outputs", default=DEFAULT_OUTPUTS, help=f"the stack's outputs file (default: {DEFAULT_OUTPUTS})"
    )
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
        help="chaos: fail this share of the functions' AWS calls (half before the request, half after it took effect)",
    )
    up.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="S",
        help="chaos: add up to S seconds to every AWS call of the functions",
    )
    up.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="FUNCTION:OPERATION:MATCH:SECONDS[:TIMES]",
        help="hold the functions' OPERATION calls (e.g. PutObject) whose key or body contains MATCH, in functions "
        "whose name starts with FUNCTION, for SECONDS, at most TIMES times in all (repeatable)",
    )
    up.add_argument(
        "--trace",
        type=Path,
        metavar="FOLDER",
        help="record every AWS call the functions make, and their role policies, in FOLDER (for IAM checks)",
    )
    up.add_argument(
        "--detach",
        action="store_true",
        help="run in the background: return once the stack is up (logs in local-stack.log beside the outputs "
        "file); stop it with `python -m local down`",
    )
    up.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one goes away (for test harnesses and scripts)",
    )
    args = parser.parse_args(argv)
    if args.command == "down":
        return stop_detached(Path(args.outputs))
    if args.detach:
        forwarded = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--detach"]
        return start_detached(forwarded, Path(args.outputs))
    try:
        delays = [Delay.parse(text) for text in args.delay]
    except ValueError as exc:
        parser.error(str(exc))

    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopped.set())
    if args.exit_with_parent:
        exit_with_parent()
    config = dict(item.split("=", 1) for item in args.config if "=" in item)
    if len(config) != len(args.config):
        parser.error("--config takes KEY=VALUE")
    faults = Faults(failure_rate=args.failure_rate, max_latency=args.latency, delays=delays)
    stack = LocalStack(
        port=args.port,
        workers=args.workers,
        config=config,
        duplicates=args.duplicate_deliveries,
        faults=faults,
        trace=args.trace,
    )
    try:
        outputs = stack.start()
    except OSError as exc:
        raise SystemExit(f"cannot start the local stack: {exc}") from None
    try:
        text = json.dumps({**outputs, "pid": os.getpid()}, indent=2, sort_keys=True)
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
