"""The original system's algorithm in plain Python (csv.DictReader + strptime per row): the reference
that tests compare against and the baseline the benchmarks measure."""

from __future__ import annotations

import csv
import datetime
import gzip
import ipaddress
import statistics
from collections import defaultdict
from pathlib import Path


def daily_totals(paths: list[Path]) -> dict[tuple[str, str], dict[str, list[int]]]:
    pairs: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
            for row in csv.DictReader(handle):
                try:
                    src = str(ipaddress.ip_address(row["Src IP"]))
                    dst = str(ipaddress.ip_address(row["Dst IP"]))
                    day = datetime.datetime.strptime(row["Timestamp"], "%d/%m/%Y %I:%M:%S %p").date().isoformat()
                    duration, packets = int(row["Flow Duration"]), int(row["Tot Fwd Pkts"])
                except (ValueError, KeyError, TypeError):
                    continue
                if duration < 0 or packets < 0:
                    continue
                totals = pairs[(src, dst)][day]
                totals[0] += duration
                totals[1] += packets
    return {pair: dict(days) for pair, days in pairs.items()}


def std(values: list[int]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def stats_lines(pairs: dict[tuple[str, str], dict[str, list[int]]]) -> list[str]:
    lines = []
    for (src, dst), days in sorted(pairs.items()):
        durations = [v[0] for v in days.values()]
        packets = [v[1] for v in days.values()]
        lines.append(
            ",".join(
                [
                    src,
                    dst,
                    str(len(days)),
                    repr(float(statistics.mean(durations))),
                    repr(float(std(durations))),
                    repr(float(statistics.mean(packets))),
                    repr(float(std(packets))),
                ]
            )
        )
    return lines
