"""python -m clients.export SRC_IP DST_IP: one pair's daily totals with its global statistics, as CSV.

Reads one consolidated shard object, however many files were ever uploaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from clients.common import (
    EXIT_BAD_IP,
    EXIT_CODES_HELP,
    EXIT_UNKNOWN_PAIR,
    ClientFailure,
    Stack,
    add_stack_arguments,
    explain,
)
from core.layout import shard_key, shard_of
from core.shard import ShardState
from core.stats import Days, Pair, PairStats, write_export


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ClientFailure(f"not an IP address: {text!r}", EXIT_BAD_IP) from None


def fetch_days(stack: Stack, pair: Pair) -> Days | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.bucket, Key=shard_key(shard_of(*pair)))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None
        raise
    return ShardState.loads(body).pairs().get(pair)


def describe(pair: Pair, days: Days, stats: PairStats) -> str:
    first, last = min(days), max(days)
    return (
        f"{pair[0]} -> {pair[1]}: {stats.count} day(s) from {first} to {last}\n"
        f"  flow duration per day: mean {stats.avg_flow_duration:,.1f} us, std {stats.std_flow_duration:,.1f} us\n"
        f"  forward packets per day: mean {stats.avg_fwd_pkts:,.1f}, std {stats.std_fwd_pkts:,.1f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.export",
        description="Export the daily totals of one (SrcIP, DstIP) pair with its global statistics "
        "(mean and sample standard deviation over its days) as CSV.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("src_ip", metavar="SRC_IP")
    parser.add_argument("dst_ip", metavar="DST_IP")
    parser.add_argument("-o", "--output", help="CSV file to write (default: export_<SRC_IP>_<DST_IP>.csv)")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=Path,
        help="also draw the daily totals with mean and ±1σ/±2σ bands (needs: pip install '.[plot]')",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)

    pair = (_ip(args.src_ip), _ip(args.dst_ip))
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise ClientFailure("--plot needs matplotlib: pip install '.[plot]' (or pip install matplotlib)", 2)
    stack = Stack(args)
    try:
        days = fetch_days(stack, pair)
    except (BotoCoreError, ClientError) as exc:
        raise explain(exc, stack.bucket) from None
    if not days:
        raise ClientFailure(f"no data for pair {pair[0]} -> {pair[1]} in bucket {stack.bucket}", EXIT_UNKNOWN_PAIR)
    path = Path(args.output or f"export_{pair[0]}_{pair[1]}.csv")
    with path.open("w", newline="") as out:
        stats = write_export(out, pair, days)
    print(f"wrote {path}")
    print(describe(pair, days, stats))
    if args.plot:
        from clients.plot import draw

        unusual = draw(args.plot, pair, days, stats)
        print(f"wrote {args.plot} ({unusual} day/metric point(s) beyond 2σ)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
