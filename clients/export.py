"""python -m clients.export SRC_IP DST_IP: one pair's daily totals with its global statistics, as CSV.

Reads the pair's stats part, the month parts of its span and the few day parts changed since those were
compacted, however many files were uploaded (README, "The consolidated state").
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from clients.common import (
    EXIT_BAD_IP,
    EXIT_CODES_HELP,
    EXIT_UNKNOWN_PAIR,
    EXIT_USAGE,
    Failure,
    Stack,
    add_stack_arguments,
)
from core.stats import Days, Pair, PairStats, write_export
from storage.consolidated import State

OUTLIER_SIGMAS = 2


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


def outliers(days: Days, stats: PairStats) -> list[str]:
    """Days whose flow duration or forward packets lie beyond 2 sigma of the pair's mean."""
    beyond = []
    for date in sorted(days):
        counts = days[date]
        if (
            stats.std_flow_duration
            and abs(counts.duration - stats.avg_flow_duration) > OUTLIER_SIGMAS * stats.std_flow_duration
        ) or (stats.std_fwd_pkts and abs(counts.packets - stats.avg_fwd_pkts) > OUTLIER_SIGMAS * stats.std_fwd_pkts):
            beyond.append(date)
    return beyond


def describe(pair: Pair, days: Days, stats: PairStats) -> str:
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
    ]
    unusual = outliers(days, stats)
    lines.append(f"  days beyond 2σ: {', '.join(unusual)}" if unusual else "  no day beyond 2σ")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.export",
        description="Export the daily totals of one (SrcIP, DstIP) pair with its global statistics "
        "(mean and sample standard deviation over its days) as CSV, and name the days beyond 2σ.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("src_ip", metavar="SRC_IP")
    parser.add_argument("dst_ip", metavar="DST_IP")
    parser.add_argument("-o", "--output", help="CSV file to write (default: export_<SRC_IP>_<DST_IP>.csv)")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=Path,
        help="also draw the daily totals with mean and ±1σ/±2σ bands (needs matplotlib: the [plot] extra)",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Failure as exc:
        return exc.report()


def run(args: argparse.Namespace) -> int:
    pair = (_ip(args.src_ip), _ip(args.dst_ip))
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise Failure("--plot needs matplotlib: pip install -e '.[plot]' in this environment", EXIT_USAGE)
    stack = Stack.from_args(args)
    with stack.errors():
        days = State(stack.store()).pair_days(*pair)
    if not days:
        raise Failure(f"no data for pair {pair[0]} -> {pair[1]} in bucket {stack.bucket}", EXIT_UNKNOWN_PAIR)
    path = Path(args.output or f"export_{pair[0]}_{pair[1]}.csv")
    with path.open("w", newline="") as out:
        stats = write_export(out, pair, days)
    print(f"wrote {path}")
    print(describe(pair, days, stats))
    if args.plot:
        from clients.plot import draw

        draw(args.plot, pair, days, stats, outliers(days, stats))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
