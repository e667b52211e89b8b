"""python -m clients.pairs: which pairs there are, from consolidated/traffic_stats.csv (one object, one
row per pair): filtered by source and destination address or network, by days, sorted by any column,
the first N; an aligned table on a terminal, the CSV of traffic_stats.csv (DESIGN §4) otherwise."""

from __future__ import annotations

import argparse
import csv
import io
import ipaddress
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from clients.common import (
    AWS_ERROR,
    EXIT_BAD_IP,
    Failure,
    Stack,
    add_stack_arguments,
    exit_codes,
    run_cli,
)
from clients.output import STDOUT, check_target, opened
from core import layout
from core.stats import STATS_HEADER

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NUMERIC = STATS_HEADER[2:]


def _network(option: str, text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise Failure(f"{option}: not an IP address or network (CIDR): {text!r}", EXIT_BAD_IP) from None


def _column(text: str) -> str:
    for column in STATS_HEADER:
        if column.lower() == text.strip().lower():
            return column
    raise argparse.ArgumentTypeError(f"no column {text!r}; one of {', '.join(STATS_HEADER)}")


def _address(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def sort_key(column: str) -> Callable[[dict[str, str]], Any]:
    """Numbers largest first, addresses in address order; ties by SrcIP, DstIP (address order)."""

    def tie(row: dict[str, str]) -> tuple[Any, ...]:
        return _address(row["SrcIP"]), _address(row["DstIP"])

    if column in NUMERIC:
        return lambda row: (-float(row[column]), *tie(row))
    return lambda row: (_address(row[column]), *tie(row))


def select(rows: list[dict[str, str]], args: argparse.Namespace) -> list[dict[str, str]]:
    src = _network("--src", args.src) if args.src else None
    dst = _network("--dst", args.dst) if args.dst else None
    kept = [
        row
        for row in rows
        if (src is None or ipaddress.ip_address(row["SrcIP"]) in src)
        and (dst is None or ipaddress.ip_address(row["DstIP"]) in dst)
        and int(row["Count"]) >= args.min_days
    ]
    if args.sort:
        kept.sort(key=sort_key(args.sort), reverse=args.reverse)
    elif args.reverse:
        kept.reverse()
    return kept[: args.top] if args.top is not None else kept


def _cell(column: str, value: str) -> str:
    if column == "Count":
        return f"{int(value):,}"
    if column in NUMERIC:
        return f"{float(value):,.1f}"
    return value


def write_table(out: TextIO, rows: list[dict[str, str]]) -> None:
    """Columns aligned (numbers to the right, with thousands separators) for a person at a terminal."""
    cells = [list(STATS_HEADER)] + [[_cell(c, row[c]) for c in STATS_HEADER] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(STATS_HEADER))]
    for line in cells:
        out.write(
            "  ".join(
                value.rjust(width) if column in NUMERIC else value.ljust(width)
                for column, value, width in zip(STATS_HEADER, line, widths, strict=True)
            ).rstrip()
            + "\n"
        )


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number: {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.pairs",
        description="List the pairs of consolidated/traffic_stats.csv with their days, mean and standard "
        "deviation: filtered, sorted, the first N. An aligned table on a terminal; the CSV of "
        "traffic_stats.csv when stdout is a pipe or a file, or with -o.",
        epilog=exit_codes(
            AWS_ERROR,
            (EXIT_BAD_IP, "invalid IP address or network in --src/--dst"),
        ),
    )
    parser.add_argument("--src", metavar="IP|CIDR", help="only pairs whose source is this address or in this network")
    parser.add_argument("--dst", metavar="IP|CIDR", help="only pairs whose destination is this address or network")
    parser.add_argument("--min-days", type=_count, default=0, metavar="N", help="only pairs seen on at least N days")
    parser.add_argument(
        "--sort",
        type=_column,
        metavar="COLUMN",
        help=f"sort by one of {', '.join(STATS_HEADER)} (any case): numbers largest first, addresses in address "
        "order (default: the file's order, SrcIP then DstIP)",
    )
    parser.add_argument("--reverse", action="store_true", help="reverse the order")
    parser.add_argument("--top", type=_count, metavar="N", help="only the first N pairs (after sorting)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the CSV to FILE (- for stdout)")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    check_target(args.output, "-o")
    select([], args)  # a bad --src/--dst is refused before any request
    stack = Stack.from_args(args)
    with stack.errors():
        found = stack.store().get(layout.TRAFFIC_STATS_KEY)
    if found is None:
        print(f"no pairs yet: nothing has been consolidated in bucket {stack.bucket}", file=sys.stderr)
        rows: list[dict[str, str]] = []
    else:
        rows = list(csv.DictReader(io.StringIO(found.body.decode())))
    kept = select(rows, args)
    if args.output is None and sys.stdout.isatty():
        write_table(sys.stdout, kept)
    else:
        with opened(args.output or STDOUT) as out:
            writer = csv.DictWriter(out, STATS_HEADER, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
    if args.output not in (None, STDOUT):
        print(f"wrote {args.output} ({len(kept)} of {len(rows)} pairs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
