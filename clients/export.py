"""python -m clients.export SRC_IP DST_IP: one pair's daily totals with its global statistics, as CSV,
and the days that were unusual against the pair's other days (core.anomalies, the rule of
clients.anomalies).

Reads the pair's stats part, the month parts of its span and the few day parts changed since those were
compacted, however many files were uploaded (README, "The consolidated state").
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import ipaddress
import sys
from collections.abc import Sequence
from typing import TextIO

from clients.common import (
    AWS_ERROR,
    BAD_IP,
    EXIT_BAD_IP,
    EXIT_UNKNOWN_PAIR,
    EXIT_USAGE,
    Failure,
    Stack,
    add_stack_arguments,
    exit_codes,
    run_cli,
)
from clients.output import STDOUT, add_rule_arguments, check_target, iso_date, opened, written
from core.anomalies import MIN_BASELINE, Judged, unusual_days
from core.stats import EXPORT_HEADER, Days, Pair, PairStats, pair_stats
from storage.consolidated import State
from storage.store import Store


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise Failure(f"not an IP address: {text!r}", EXIT_BAD_IP) from None


def seconds(microseconds: float) -> str:
    value = microseconds / 1e6
    if value >= 3600:
        return f"{value / 3600:,.2f} h"
    if value >= 1:
        return f"{value:,.2f} s"
    return f"{value * 1000:,.3f} ms"


def judgement(days: Days, found: list[Judged], sigma: float, min_days: int) -> str:
    """The line on unusual days: which, none, or why none can be judged."""
    need = max(min_days, MIN_BASELINE)
    if len(days) - 1 < need:
        return (
            f"{len(days)} days: too few to judge, need {need + 1} "
            f"(each day is judged against at least {need} other days of the pair; --min-days)"
        )
    if not found:
        return f"no day {sigma:g}σ or more from the pair's other days"
    listed = ", ".join(f"{j.date} (z {j.z[0]:+.1f} flow duration, {j.z[1]:+.1f} packets)" for j in found)
    return f"unusual days ({sigma:g}σ or more from the pair's other days): {listed}"


def describe(pair: Pair, days: Days, stats: PairStats, unusual: str) -> str:
    first, last = min(days), max(days)
    lines = [f"{pair[0]} -> {pair[1]}: {stats.count} day(s) from {first} to {last}"]
    if stats.count == 1:
        lines.append(
            f"  one day only: flow duration {seconds(stats.avg_flow_duration)}, {stats.avg_fwd_pkts:,.0f} forward "
            "packets; the standard deviation is undefined (the CSV writes 0.0)"
        )
        return "\n".join(lines)
    lines += [
        f"  flow duration per day: mean {seconds(stats.avg_flow_duration)}, std {seconds(stats.std_flow_duration)}",
        f"  forward packets per day: mean {stats.avg_fwd_pkts:,.1f}, std {stats.std_fwd_pkts:,.1f}",
        f"  {unusual}",
    ]
    return "\n".join(lines)


def write_rows(out: TextIO, pair: Pair, days: Days, stats: PairStats) -> None:
    """The export CSV (DESIGN §4): the given days, each with the pair's global statistics."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for date in sorted(days):
        writer.writerow((date, *pair, days[date].duration, days[date].packets, *stats.cells()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.export",
        description="Export the daily totals of one (SrcIP, DstIP) pair with its global statistics "
        "(mean and sample standard deviation over all its days) as CSV, and name the days that were unusual "
        "against the pair's other days (leave-one-out, the rule of clients.anomalies).",
        epilog=exit_codes(
            AWS_ERROR,
            BAD_IP,
            (EXIT_UNKNOWN_PAIR, "unknown pair, or no day of it between --from and --to"),
        ),
    )
    parser.add_argument("src_ip", metavar="SRC_IP")
    parser.add_argument("dst_ip", metavar="DST_IP")
    parser.add_argument(
        "-o", "--output", help="CSV file to write, - for stdout (default: export_<SRC_IP>_<DST_IP>.csv)"
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the daily totals with the mean and ±1σ/±Kσ bands into FILE.png (the name must end in "
        ".png; needs matplotlib: the [plot] extra)",
    )
    parser.add_argument("--from", dest="first", type=iso_date, metavar="YYYY-MM-DD", help="write days from this one")
    parser.add_argument("--to", dest="last", type=iso_date, metavar="YYYY-MM-DD", help="write days up to this one")
    add_rule_arguments(parser)
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(lambda: run(args))


def unknown_pair(store: Store, stack: Stack, pair: Pair) -> Failure:
    message = f"no data for pair {pair[0]} -> {pair[1]} in bucket {stack.bucket}"
    with stack.errors():
        reverse = State(store).pair_days(pair[1], pair[0])
    if reverse:
        message += (
            f"; the reverse direction {pair[1]} -> {pair[0]} has {len(reverse)} day(s) "
            f"(python -m clients.export {pair[1]} {pair[0]})"
        )
    return Failure(message, EXIT_UNKNOWN_PAIR)


def run(args: argparse.Namespace) -> int:
    pair = (_ip(args.src_ip), _ip(args.dst_ip))
    if args.first and args.last and args.first > args.last:
        raise Failure(f"--from {args.first} is after --to {args.last}", EXIT_USAGE)
    output = args.output or f"export_{pair[0]}_{pair[1]}.csv"
    check_target(output, "-o")
    check_target(args.plot, "--plot", suffix=".png")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise Failure("--plot needs matplotlib: pip install -e '.[plot]' in this environment", EXIT_USAGE)
    stack = Stack.from_args(args)
    store = stack.store()
    with stack.errors():
        days = State(store).pair_days(*pair)
    if not days:
        raise unknown_pair(store, stack, pair)
    first, last = args.first or min(days), args.last or max(days)
    shown = {date: counts for date, counts in days.items() if first <= date <= last}
    if not shown:
        raise Failure(
            f"no day of {pair[0]} -> {pair[1]} between {first} and {last} (its days: {min(days)} to {max(days)})",
            EXIT_UNKNOWN_PAIR,
        )
    stats = pair_stats(days)
    found = [j for j in unusual_days(pair, days, args.sigma, args.min_days) if j.date in shown]
    info = sys.stderr if output == STDOUT else sys.stdout
    # Both files appear only once both are complete.
    with opened(output) as out, written(args.plot) if args.plot else contextlib.nullcontext() as png:
        if png is not None:
            from clients.plot import draw

            draw(png, pair, shown, stats, sigma=args.sigma, unusual=found)
        write_rows(out, pair, shown, stats)
    if output != STDOUT:
        print(f"wrote {output}" + (f" ({len(shown)} of {len(days)} days)" if len(shown) < len(days) else ""), file=info)
    if args.plot:
        print(f"wrote {args.plot}", file=info)
    print(describe(pair, days, stats, judgement(days, found, args.sigma, args.min_days)), file=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
