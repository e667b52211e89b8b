"""python -m core.summarize FILE|- [FILE ...]: the merged summary CSV of local flow files.

The summary goes to stdout; one report line per file goes to stderr. Exit codes: see EXIT_MEANINGS.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from typing import Final

from core.flows import FileSummary, RejectedFile, summarize_stream
from core.headerless import HEADER_LAYOUT
from core.ranges import MIN_BYTES_PER_JOB, summarize_path, usable_cores
from core.summary import write_table
from core.table import DailyTotals

EXIT_REJECTED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_CLOSED_PIPE: Final = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader went away."""
EXIT_MEANINGS: Final = {
    0: "every file was summarized",
    EXIT_REJECTED: "a file was rejected (the reason is on stderr; the other files are in the summary)",
    EXIT_USAGE: "bad usage (arguments, a FILE that does not exist or is a folder)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_CLOSED_PIPE: "the reader of stdout went away (e.g. `| head`), quietly",
}


def report(name: str, summary: FileSummary) -> str:
    skipped = sum(summary.skipped.values())
    line = f"{name}: {summary.rows_read} rows read, {summary.rows_kept} kept, {skipped} skipped"
    if skipped:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.skipped.items()))
        line += f" ({reasons})"
    if summary.layout.layout != HEADER_LAYOUT:
        line += f"; columns by position: {summary.layout.evidence}"
    return f"{line}; flow duration in {summary.unit.evidence}"


def _summarize_path(path: str, jobs: int) -> FileSummary:
    if path == "-":
        return summarize_stream(sys.stdin.buffer)
    try:
        return summarize_path(path, jobs)
    except OSError as exc:
        raise RejectedFile(f"cannot read: {exc.strerror}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.summarize",
        description="Summarize CICFlowMeter flow CSVs (plain or gzip) into daily totals per device pair. "
        "Writes the merged summary CSV to stdout and one report line per file to stderr.",
        epilog="exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_MEANINGS.items()),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="flow CSV file, or - for standard input")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=usable_cores(),
        help="processes per file: a plain file is read in byte ranges in parallel, one range per "
        f"{MIN_BYTES_PER_JOB >> 20} MB at most (default: the usable cores; the result is the same with any value)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    for path in args.files:
        if path != "-" and not os.path.isfile(path):
            parser.error(f"{path}: {'is a folder' if os.path.isdir(path) else 'no such file'}")
    try:
        return _summarize_all(args.files, args.jobs)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at /dev/null.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE


def _summarize_all(paths: Sequence[str], jobs: int) -> int:
    merged: DailyTotals | None = None
    status = 0
    for path in paths:
        name = "<stdin>" if path == "-" else path
        try:
            summary = _summarize_path(path, jobs)
        except RejectedFile as exc:
            print(f"{name}: rejected: {exc}", file=sys.stderr)
            status = EXIT_REJECTED
            continue
        print(report(name, summary), file=sys.stderr)
        if merged is None:
            merged = summary.table
        else:
            merged.merge(summary.table)
    write_out(merged or DailyTotals())
    return status


def write_out(table: DailyTotals) -> None:
    """The summary CSV to stdout: its bytes, or text where stdout is a text-only stream."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        text = io.BytesIO()
        write_table(text, table)
        sys.stdout.write(text.getvalue().decode())
        return
    write_table(binary, table)
    binary.flush()


if __name__ == "__main__":
    raise SystemExit(main())
