"""Summarize at every shape (issue 15): large files and high-cardinality files. Each contender is a
whole process (interpreter start and imports included) that reads the flow CSV and writes the
summary CSV of DESIGN section 4 to a file, the product's own job: core is `python -m core.summarize`;
DuckDB runs COPY (... GROUP BY ... ORDER BY ...) TO the file; polars and pandas group, sort and write.
Contenders are timed alternately; memory is the peak of the process tree's summed PSS (workers
included), sampled every few milliseconds. Every contender's output is checked equal to core's.
"""

from __future__ import annotations

import datetime
import functools
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.summary import SUMMARY_HEADER, read_summary
from local.samples import JAVA_HEADER, device_pairs, write_sample_file

ROOT = Path(__file__).resolve().parent.parent
START = datetime.date(2024, 1, 1)
ISO_DAY = "strftime(strptime(split_part(\"Timestamp\", ' ', 1), '%d/%m/%Y'), '%Y-%m-%d')"


def duckdb_csv(path: str, out: str) -> None:
    import duckdb

    date, src, dst, duration, packets, flows = SUMMARY_HEADER
    duckdb.sql(
        f"""COPY (SELECT {ISO_DAY} AS "{date}", "Src IP" AS "{src}", "Dst IP" AS "{dst}",
                         sum("Flow Duration")::HUGEINT AS "{duration}", sum("Tot Fwd Pkts")::HUGEINT AS "{packets}",
                         count(*) AS "{flows}"
                  FROM read_csv('{path}', header = true,
                                types = {{'Timestamp': 'VARCHAR', 'Src IP': 'VARCHAR', 'Dst IP': 'VARCHAR'}})
                  GROUP BY ALL ORDER BY ALL) TO '{out}' (HEADER, DELIMITER ',')"""
    )


def polars_csv(path: str, out: str) -> None:
    import polars as pl

    stamp = pl.col("Timestamp")
    date, src, dst, duration, packets, flows = SUMMARY_HEADER
    (
        pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
        .select(
            pl.concat_str([stamp.str.slice(6, 4), stamp.str.slice(3, 2), stamp.str.slice(0, 2)], separator="-").alias(
                date
            ),
            pl.col("Src IP").alias(src),
            pl.col("Dst IP").alias(dst),
            pl.col("Flow Duration").cast(pl.Int64),
            pl.col("Tot Fwd Pkts").cast(pl.Int64),
        )
        .group_by(date, src, dst)
        .agg(
            pl.col("Flow Duration").sum().alias(duration),
            pl.col("Tot Fwd Pkts").sum().alias(packets),
            pl.len().alias(flows),
        )
        .sort(date, src, dst)
        .collect()
        .write_csv(out)
    )


def pandas_csv(path: str, out: str) -> None:
    import pandas as pd

    date, src, dst, duration, packets, flows = SUMMARY_HEADER
    columns = ["Src IP", "Dst IP", "Timestamp", "Flow Duration", "Tot Fwd Pkts"]
    frame = pd.read_csv(path, usecols=columns, encoding="utf-8-sig", dtype={"Src IP": str, "Dst IP": str})
    stamp = frame["Timestamp"].str
    frame[date] = stamp.slice(6, 10) + "-" + stamp.slice(3, 5) + "-" + stamp.slice(0, 2)
    frame = frame.rename(columns={"Src IP": src, "Dst IP": dst})
    grouped = frame.groupby([date, src, dst], sort=True).agg(
        **{duration: ("Flow Duration", "sum"), packets: ("Tot Fwd Pkts", "sum"), flows: ("Flow Duration", "size")}
    )
    grouped.to_csv(out)


FLOOR = "Python floor"


def floor_csv(path: str, out: str) -> None:
    """A bound, not a contender: the least a Python program can do for the product's job on these
    files, in one process. It checks nothing (no quotes, short rows, bad or negative numbers, dates,
    times or IP addresses) and relies on their layout (Java columns, a dd/mm/yyyy date, canonical
    IPs); what is left is core's hot loop at its barest: split the line, build the key, two int(),
    one dict lookup, three additions per row, then sort and write each day's pairs."""
    days: dict[bytes, dict[bytes, list[int]]] = {}
    last, pairs = b"", {}
    with open(path, "rb") as lines:
        next(lines)
        for line in lines:
            fields = line.split(b",", 9)
            day = fields[6][:10]
            if day != last:
                last, pairs = day, days.setdefault(day, {})
            key = fields[1] + b"," + fields[3]
            duration, packets = int(fields[7]), int(fields[8])
            sums = pairs.get(key)
            if sums is None:
                pairs[key] = [duration, packets, 1]
            else:
                sums[0] += duration
                sums[1] += packets
                sums[2] += 1
    with open(out, "wb") as summary:
        summary.write((",".join(SUMMARY_HEADER) + "\n").encode())
        for day in sorted(days, key=lambda raw: (raw[6:], raw[3:5], raw[:2])):
            pairs = days[day]
            prefix = b"%s-%s-%s," % (day[6:], day[3:5], day[:2])
            summary.write(b"".join([b"%s%s,%d,%d,%d\n" % (prefix, key, *pairs[key]) for key in sorted(pairs)]))


def contender(name: str, path: str, out: str) -> None:
    {"DuckDB": duckdb_csv, "polars": polars_csv, "pandas": pandas_csv, FLOOR: floor_csv}[name](path, out)


def command(name: str, path: Path, out: Path, jobs: int) -> list[str]:
    if name.startswith("core"):
        return [sys.executable, "-m", "core.summarize", "--jobs", str(jobs if "--jobs" in name else 1), str(path)]
    code = f"from local.bench_shapes import contender; contender({name!r}, {str(path)!r}, {str(out)!r})"
    return [sys.executable, "-c", code]


def available(jobs: int) -> list[str]:
    names = ["core", "core --jobs"] if jobs > 1 else ["core"]
    return [
        *names,
        FLOOR,
        *[
            name
            for name, module in (("DuckDB", "duckdb"), ("polars", "polars"), ("pandas", "pandas"))
            if importlib.util.find_spec(module) is not None
        ],
    ]


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for each in pids:
        try:
            with open(f"/proc/{each}/task/{each}/children") as children:
                pids += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return pids


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(argv: list[str], stdout_to: Path | None) -> tuple[float, int]:
    """Wall time and peak summed PSS (MB) of a process and its children (stdout into a file or nowhere)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with stdout_to.open("wb") if stdout_to else open(os.devnull, "wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        peak = 0
        while process.poll() is None:
            peak = max(peak, sum(_pss_kb(pid) for pid in _tree(process.pid)))
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {stderr[-2000:]}")
    return elapsed, peak // 1024


def ten_branches(per_branch: int) -> list[tuple[str, str]]:
    return [pair for branch in range(1, 11) for pair in device_pairs(branch, per_branch)]


@dataclass(frozen=True)
class Shape:
    label: str
    rows: int
    pairs: Callable[[], list[tuple[str, str]]]
    days: int
    columns: int = len(JAVA_HEADER)


SHAPES = [
    Shape("200k rows, 300 pairs", 200_000, lambda: device_pairs(3, 150) + device_pairs(4, 150), 3),
    Shape("2M rows, 300 pairs", 2_000_000, lambda: device_pairs(3, 150) + device_pairs(4, 150), 3),
    Shape("1M rows, ≈ 444k (day, pair) keys", 1_000_000, functools.partial(ten_branches, 26_000), 2),
    Shape(
        "1M rows × 40 columns, ≈ 444k (day, pair) keys",
        1_000_000,
        functools.partial(ten_branches, 26_000),
        2,
        columns=40,
    ),
    Shape("2M rows, 500k pairs", 2_000_000, functools.partial(ten_branches, 50_000), 1),
]


def run(work: Path, runs: int, shapes: list[str] | None = None) -> list[str]:
    from core.ranges import usable_cores

    jobs = usable_cores()
    names = available(jobs)
    lines = [
        f"### Summarize at every shape: flow CSV in, summary CSV out, whole process, median of {runs}, "
        f"peak PSS of the process tree (84-column files unless said; `core --jobs` = {jobs} processes)",
        "",
        "| file | keys | " + " | ".join(f"{n} s (MB)" for n in names) + " | core ÷ DuckDB | best core ÷ DuckDB "
        f"| floor ÷ {jobs} ÷ DuckDB |",
        "|---|---:|" + "---:|" * len(names) + "---:|---:|---:|",
    ]
    for shape in SHAPES:
        label = shape.label
        if shapes and label not in shapes:
            continue
        path = work / "shape.csv"
        days = [START + datetime.timedelta(days=n) for n in range(shape.days)]
        write_sample_file(path, shape.rows, shape.pairs(), days, seed=shape.rows, columns=shape.columns)
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, int] = dict.fromkeys(names, 0)
        expected = None
        for _ in range(runs):
            for name in names:
                out = work / "summary.csv"
                out.unlink(missing_ok=True)
                seconds, rss = measured(command(name, path, out, jobs), out if name.startswith("core") else None)
                times[name].append(seconds)
                peaks[name] = max(peaks[name], rss)
                written = read_summary(io.StringIO(out.read_text()))
                expected = expected if expected is not None else written
                assert written == expected, f"{name} disagrees with core on {label}"
        assert expected is not None
        median = {name: statistics.median(values) for name, values in times.items()}
        cells = " | ".join(f"{median[n]:.2f} ({peaks[n]})" for n in names)
        duck = median.get("DuckDB")
        ratio = f"{duck / median['core']:.2f}×" if duck else "—"
        best = f"{duck / min(median[n] for n in names if n.startswith('core')):.2f}×" if duck else "—"
        size = path.stat().st_size / 1e6
        ideal = f"{duck / (median[FLOOR] / jobs):.2f}×" if duck else "—"
        lines.append(f"| {label} ({size:.0f} MB) | {len(expected):,} | {cells} | {ratio} | {best} | {ideal} |")
        path.unlink()
    return [
        *lines,
        "",
        "Ratios are DuckDB's time ÷ core's: above 1.00× core is faster. The last column bounds what a "
        "pure-Python reader that reads line by line could reach: DuckDB's time ÷ "
        f"({FLOOR}'s time ÷ {jobs}), as if the bare loop (no validation, local.bench_shapes.floor_csv) "
        "split over the cores at no cost.",
        "",
    ]


def main(argv: list[str] | None = None) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="iot-shapes-") as tmp:
        print("\n".join(run(Path(tmp), int((argv or sys.argv[1:] or ["3"])[0]))))


if __name__ == "__main__":
    main()
