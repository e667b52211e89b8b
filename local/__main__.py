"""python -m local up|down: the whole pipeline on this machine (see --help)."""

from __future__ import annotations

import argparse
import errno
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

DEFAULT_OUTPUTS = "local-outputs.json"
STARTUP_SECONDS = 120
STOP_SECONDS = 60
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stop(Exception):
    """SIGTERM, SIGINT or SIGHUP arrived: stop whatever was started, wherever the main thread is."""


STARTING: dict[str, Any] = {"yes": False, "stack": None}
"""Whether a foreground `up` is starting its stack, and that stack (once created)."""


def stop_on_signals() -> None:
    """The first signal raises Stop in the main thread; later ones are ignored while the stack stops.
    While the stack is starting, the main thread may be anywhere, among others inside the Pulumi
    runtime's event loop, which swallows an exception raised there and waits for ever: so a signal
    then kills what was started and ends the process at once (each runner ends with its parent)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        for other in SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        name = signal.Signals(signum).name
        if STARTING["yes"]:
            stack = STARTING["stack"]
            for process in list(stack.processes) if stack is not None else ():
                process.kill()
            os.write(2, f"interrupted ({name}): nothing is left running\n".encode())
            os._exit(1)
        raise Stop(name)

    for signum in SIGNALS:
        signal.signal(signum, handler)


def log_file(outputs: Path) -> Path:
    """A detached stack's log, named after its outputs file: local-outputs.json -> local-outputs.log."""
    outputs = outputs.resolve()
    return outputs.with_name((outputs.name if outputs.suffix == ".log" else outputs.stem) + ".log")


def recorded_pid(outputs: Path) -> int:
    """The pid in an outputs file; 0 when it has none (not written by `local up`)."""
    try:
        return int(json.loads(outputs.read_text()).get("pid", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(outputs: Path) -> None:
    """Before any work: the outputs file can be written, and is not a running stack's; a stale one (its
    process is gone) is removed, as `local down` does."""
    if not outputs.resolve().parent.is_dir():
        raise SystemExit(f"cannot write {outputs}: no folder {outputs.resolve().parent}")
    if not outputs.exists():
        return
    pid = recorded_pid(outputs)
    if alive(pid):
        raise SystemExit(
            f"{outputs} belongs to a running local stack (pid {pid}): stop it with "
            f"`python -m local down --outputs {outputs}`, or choose another --outputs"
        )
    outputs.unlink()
    print(f"removed the stale {outputs} (process {pid} is gone)", file=sys.stderr)


def write_atomically(path: Path, text: str) -> None:
    """Whoever polls for the file (`up --detach`, tests) never reads it half written."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


def last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def start_detached(arguments: list[str], outputs: Path) -> int:
    claim(outputs)
    log = log_file(outputs)
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", *arguments], stdout=sink, stderr=sink, start_new_session=True
        )
    started = False
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not outputs.exists():
            if process.poll() is not None:
                raise SystemExit(f"{last_line(log) or 'the local stack did not start'} (log: {log})")
            if time.monotonic() > deadline:
                raise SystemExit(f"the local stack did not start within {STARTUP_SECONDS} s; see {log}")
            time.sleep(0.1)
        started = True
    finally:
        if not started:
            stop_process(process)
    print(f"local stack up (pid {process.pid}); outputs in {outputs}, logs in {log}; stop: python -m local down")
    return 0


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_detached(outputs: Path) -> int:
    if not outputs.exists():
        raise SystemExit(f"no {outputs}: no local stack runs from this folder")
    pid = recorded_pid(outputs)
    if not alive(pid):
        outputs.unlink()
        print(f"no process {pid}: removed the stale {outputs}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while outputs.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if outputs.exists():
        raise SystemExit(f"the local stack (pid {pid}) did not stop within {STOP_SECONDS} s")
    print("local stack stopped")
    return 0


def startup_error(exc: BaseException, port: int) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"port {port} on 127.0.0.1 is in use (another program has it; --port 0 picks a free one)"
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run(args: argparse.Namespace, stack_options: dict[str, Any]) -> int:
    """The foreground stack: up until a signal; whatever happens, nothing is left behind."""
    STARTING["yes"] = True
    from local.stack import LocalStack  # after the signal handlers: importing moto and Pulumi takes seconds

    outputs = Path(args.outputs)
    claim(outputs)
    stack = LocalStack(**stack_options)
    STARTING["stack"] = stack
    written = False
    try:
        try:
            stack.start()
        except Stop:
            raise
        except Exception as exc:
            raise SystemExit(f"cannot start the local stack: {startup_error(exc, args.port)}") from None
        STARTING["yes"] = False  # from here a signal raises Stop: the outputs file is removed on the way out
        text = json.dumps({**stack.outputs, "pid": os.getpid()}, indent=2, sort_keys=True)
        write_atomically(outputs, text + "\n")
        written = True
        print(text, flush=True)
        print(
            f"local stack up at {stack.endpoint}. Clients run from this folder find it through {args.outputs}; "
            f"from elsewhere: export IOT_OUTPUTS={outputs.resolve()}",
            file=sys.stderr,
            flush=True,
        )
        while True:  # not signal.pause(): a signal the kernel hands to another thread does not end it
            time.sleep(0.5)  # (the handler runs in this thread at its next bytecode; a hang seen under load)
    except Stop:
        if not written:
            raise
    finally:
        stack.stop()
        if written:
            outputs.unlink(missing_ok=True)
    print("local stack stopped", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the pipeline locally: moto's S3 and SQS on 127.0.0.1, the Pulumi program deployed "
        "onto it, and the Lambda event source mappings emulated.",
        epilog="Exit status: 0 stopped cleanly (or down: stopped); 1 the stack could not start or stop "
        "(one line says why); 2 usage error.",
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
        "--outputs",
        default=DEFAULT_OUTPUTS,
        help=f"where to write the stack outputs JSON (default: {DEFAULT_OUTPUTS}); a stale one (its process "
        "gone) is replaced, a running stack's is refused",
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
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every wait of the emulator (a failed message's visibility timeout, DelaySeconds, "
        "a lifecycle day) by F, e.g. 0.05 for tests; function timeouts are unchanged (default: 1)",
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
        "--not-found-reads",
        type=int,
        default=0,
        metavar="N",
        help="chaos: answer the functions' first N GET/HEAD reads of each raw object, status record and summary "
        "with 404 NoSuchKey, as S3 may in the first minutes after versioning is enabled",
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
        help="run in the background: return once the stack is up (logs beside the outputs file, named after it: "
        "local-outputs.log); stop it with `python -m local down`",
    )
    up.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one goes away (for test harnesses and scripts)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stop_on_signals()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack on stderr
    try:
        return command(argv)
    except Stop as stop:
        raise SystemExit(f"interrupted ({stop}): nothing is left running") from None


def command(argv: Sequence[str] | None) -> int:
    commands = parser()
    args = commands.parse_args(argv)
    if args.command == "down":
        return stop_detached(Path(args.outputs))
    if args.time_scale <= 0:
        commands.error("--time-scale must be positive")
    if args.not_found_reads < 0:
        commands.error("--not-found-reads must be 0 or more")
    config = dict(item.split("=", 1) for item in args.config if "=" in item)
    if len(config) != len(args.config):
        commands.error("--config takes KEY=VALUE")
    from local.faults import Delay, Faults  # after the signal handlers, as every import of botocore and moto
    from local.parentwatch import exit_with_parent

    try:
        delays = [Delay.parse(text) for text in args.delay]
    except ValueError as exc:
        commands.error(str(exc))
    if args.detach:
        forwarded = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--detach"]
        return start_detached(forwarded, Path(args.outputs))
    if args.exit_with_parent:
        exit_with_parent()
    faults = Faults(
        failure_rate=args.failure_rate,
        max_latency=args.latency,
        delays=delays,
        not_found_reads=args.not_found_reads,
    )
    options = {
        "port": args.port,
        "workers": args.workers,
        "config": config,
        "duplicates": args.duplicate_deliveries,
        "faults": faults,
        "trace": args.trace,
        "time_scale": args.time_scale,
    }
    return run(args, options)


if __name__ == "__main__":
    raise SystemExit(main())
