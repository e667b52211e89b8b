"""python -m clients.anomalies: what was unusual on one day, across every pair.

Each pair with a total on the day is judged against its own other days (leave-one-out, core.anomalies):
listed when the total lies at least K standard deviations from their mean on either metric, with at
least N other days. One row per flagged pair, the larger |z| first. `--new` lists the pairs first seen
that day instead. `--html` writes one self-contained page: the table and a plot per top pair.

Reads what storage.views.day_view reads (its docstring states the cost): today, the 8 stats parts and
the day's 8 day parts, however many days and files there were; `--html` adds one export's reads per plot.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import importlib.util
import io
import sys
from collections.abc import Callable, Sequence
from typing import Final, TextIO

from clients.common import (
    AWS_ERROR,
    EXIT_UNKNOWN_PAIR,
    EXIT_USAGE,
    Failure,
    Stack,
    add_stack_arguments,
    exit_codes,
    run_cli,
)
from clients.output import STDOUT, add_rule_arguments, check_target, iso_date, opened
from core.anomalies import Judged, first_seen, unusual, write_first_seen, write_unusual
from storage.consolidated import State
from storage.store import Store
from storage.views import day_view, latest_date

PLOTS: Final = 10
"""Plots on the HTML page: the first rows of the table (or --top's)."""


def _count(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.anomalies",
        description="List the pairs whose total on one day lies at least K standard deviations from the pair's "
        "other days (leave-one-out: mean and sample standard deviation of its other daily totals), on flow "
        "duration or forward packets, as CSV sorted by the larger |z|. --new lists the pairs first seen that day.",
        epilog=exit_codes(
            AWS_ERROR,
            (EXIT_UNKNOWN_PAIR, "no data on that day (or none at all)"),
        ),
    )
    parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="the day (default: the latest with data)")
    add_rule_arguments(parser)
    parser.add_argument("--top", type=_count, metavar="N", help="only the first N rows")
    parser.add_argument("--new", action="store_true", help="list the pairs first seen on that day instead")
    parser.add_argument("-o", "--output", metavar="FILE", default=STDOUT, help="CSV file to write (default: - stdout)")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help=f"also write a self-contained page: the table and a plot of the first {PLOTS} pairs",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    check_target(args.output, "-o")
    check_target(args.html, "--html")
    if args.html and not args.new and importlib.util.find_spec("matplotlib") is None:
        raise Failure("--html draws plots with matplotlib: pip install -e '.[plot]' in this environment", EXIT_USAGE)
    stack = Stack.from_args(args)
    store = stack.store()
    with stack.errors():
        date = args.date or latest_date(store)
        if date is None:
            raise Failure(f"no data yet: nothing has been consolidated in bucket {stack.bucket}", EXIT_UNKNOWN_PAIR)
        day = list(day_view(store, date))
        if not day:
            raise Failure(f"no data on {date} (the latest day with data is {latest_date(store)})", EXIT_UNKNOWN_PAIR)
    if args.new:
        new = first_seen(day, date)[: args.top]
        with opened(args.output) as out:
            write_first_seen(out, date, new)
        summary = f"{date}: {len(new)} of {len(day)} pairs first seen that day"
        if args.html:
            with opened(args.html) as page:
                page.write(_page(summary, _csv_rows(lambda out: write_first_seen(out, date, new)), []))
    else:
        found = unusual(day, date, args.sigma, args.min_days)[: args.top]
        judged = sum(1 for _, _, sums in day if sums.n - 1 >= args.min_days)
        summary = (
            f"{date}: {len(found)} of {len(day)} pairs {args.sigma:g}σ or more from their other days "
            f"({judged} had at least {args.min_days} other days to be judged against)"
        )
        if args.html:
            with stack.errors():
                figures = [_plot(store, j, args.sigma) for j in found[:PLOTS]]
            with opened(args.html) as page:
                page.write(_page(summary, _csv_rows(lambda out: write_unusual(out, found)), figures))
        with opened(args.output) as out:
            write_unusual(out, found)
    print(summary, file=sys.stderr)
    for path in (args.output, args.html):
        if path not in (None, STDOUT):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _csv_rows(write: Callable[[TextIO], None]) -> list[list[str]]:
    buffer = io.StringIO()
    write(buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue())))


def _plot(store: Store, judged: Judged, sigma: float) -> tuple[str, str]:
    """A PNG (base64) of the pair's days against the baseline of the judged day, the day marked."""
    import matplotlib.pyplot as plt

    from clients.plot import figure

    days = State(store).pair_days(*judged.pair) or {judged.date: judged.total}
    fig = figure(
        judged.pair,
        days,
        judged.baseline,
        sigma=sigma,
        unusual=[judged],
        judged=judged,
        baseline_name="the other days",
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=80, format="png")
    plt.close(fig)
    return f"{judged.pair[0]} → {judged.pair[1]}", base64.b64encode(buffer.getvalue()).decode()


STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 3px 6px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f2f4f7; position: sticky; top: 0; white-space: normal; vertical-align: bottom; }
td.ip, th.ip { text-align: left; font-family: ui-monospace, monospace; }
img { max-width: 100%; border: 1px solid #ddd; margin-bottom: 1.5em; }
"""


def _cell(column: str, value: str) -> str:
    if column in ("Date", "SrcIP", "DstIP", "LastDay"):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    if column.startswith("Z"):
        return f"{number:+,.2f}" if abs(number) != float("inf") else value
    return f"{number:,.0f}" if number == int(number) or abs(number) >= 100 else f"{number:,.2f}"


def _page(summary: str, rows: list[list[str]], figures: list[tuple[str, str]]) -> str:
    header, *body = rows
    classes = ['class="ip"' if column in ("SrcIP", "DstIP") else "" for column in header]
    head = "".join(f"<th {c}>{html.escape(column)}</th>" for c, column in zip(classes, header, strict=True))
    lines = [
        "<tr>"
        + "".join(
            f"<td {c}>{html.escape(_cell(column, value))}</td>"
            for c, column, value in zip(classes, header, row, strict=True)
        )
        + "</tr>"
        for row in body
    ]
    plots = [
        f'<h2>{html.escape(title)}</h2>\n<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
        for title, data in figures
    ]
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(summary)}</title>'
        f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(summary)}</h1>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(lines)
        + "\n</tbody></table>\n"
        + ("<p>No pair.</p>\n" if not body else "")
        + "\n".join(plots)
        + "\n</body></html>\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
