"""python -m core.summarize FILE|- [FILE ...]: the merged summary CSV of local flow files.

The summary goes to stdout; one report line per file goes to stderr. Exit 0 when every file
was readable, 2 when any was rejected.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence

from core.flows import FileSummary, RejectedFile, summarize_stream
from core.headerless import HEADER_LAYOUT
from core.ranges import MIN_BYTES_PER_JOB, summarize_path, usable_cores
from core.summary import write_table
from core.table import DailyTotals

EXIT_REJECTED = 2


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.summarize",
        description="Summarize CICFlowMeter flow CSVs (plain or gzip) into daily totals per device pair. "
        "Writes the merged summary CSV to stdout and one report line per file to stderr.",
        epilog="Exit status: 0 if every file was readable, 2 if any file was rejected.",
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
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    merged: DailyTotals | None = None
    status = 0
    for path in args.files:
        name = "<stdin>" if path == "-" else path
        try:
            summary = _summarize_path(path, args.jobs)
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
