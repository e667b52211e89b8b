"""Summarize at every shape (issue 15): large files and high-cardinality files, each contender a whole
process (interpreter start and imports included), timed alternately, with its peak RSS.

Contenders: core on one process, core in byte ranges on the usable cores (`--jobs`), DuckDB, polars
and pandas (those of the bench extra that are installed). Every contender's totals are checked equal
to core's before timing.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.samples import device_pairs, write_sample_file

ROOT = Path(__file__).resolve().parent.parent
START = datetime.date(2024, 1, 1)
Totals = dict[tuple[str, str, str], tuple[int, int, int]]


def core(path: str, jobs: int) -> Totals:
    from core.ranges import summarize_path

    totals = summarize_path(path, jobs).totals
    return {tuple(k): tuple(v) for k, v in totals.items()}  # type: ignore[misc]


def polars(path: str) -> Totals:
    import polars as pl

    stamp = pl.col("Timestamp")
    frame = (
        pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
        .select(
            pl.concat_str([stamp.str.slice(6, 4), stamp.str.slice(3, 2), stamp.str.slice(0, 2)], separator="-").alias(
                "Date"
            ),
            pl.col("Src IP"),
            pl.col("Dst IP"),
            pl.col("Flow Duration").cast(pl.Int64),
            pl.col("Tot Fwd Pkts").cast(pl.Int64),
        )
        .group_by("Date", "Src IP", "Dst IP")
        .agg(pl.col("Flow Duration").sum(), pl.col("Tot Fwd Pkts").sum(), pl.len())
        .collect()
    )
    return {(d, s, t): (int(a), int(b), int(c)) for d, s, t, a, b, c in frame.iter_rows()}


def contender(name: str, path: str, jobs: int) -> Totals:
    from local import bench

    if name == "core":
        return core(path, 1)
    if name == "core --jobs":
        return core(path, jobs)
    if name == "DuckDB":
        return bench.duckdb_totals(Path(path))
    if name == "polars":
        return polars(path)
    if name == "pandas":
        return bench.pandas_totals(Path(path))
    raise ValueError(name)


def available(jobs: int) -> list[str]:
    names = ["core", "core --jobs"] if jobs > 1 else ["core"]
    return names + [
        name
        for name, module in (("DuckDB", "duckdb"), ("polars", "polars"), ("pandas", "pandas"))
        if importlib.util.find_spec(module) is not None
    ]


def whole_process(name: str, path: Path, jobs: int) -> tuple[float, int]:
    from local.bench import peak_rss_of

    code = f"from local.bench_shapes import contender; contender({name!r}, {str(path)!r}, {jobs})"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    rss, _ = peak_rss_of(code, env=env)
    return time.perf_counter() - started, rss


SHAPES: list[tuple[str, int, Callable[[], list[tuple[str, str]]], int]] = [
    ("200k rows, 300 pairs", 200_000, lambda: device_pairs(3, 150) + device_pairs(4, 150), 3),
    ("2M rows, 300 pairs", 2_000_000, lambda: device_pairs(3, 150) + device_pairs(4, 150), 3),
    (
        "1M rows, ≈ 444k (day, pair) keys",
        1_000_000,
        lambda: [pair for branch in range(1, 11) for pair in device_pairs(branch, 26_000)],
        2,
    ),
    (
        "2M rows, 500k pairs",
        2_000_000,
        lambda: [pair for branch in range(1, 11) for pair in device_pairs(branch, 50_000)],
        1,
    ),
]


def run(work: Path, runs: int, shapes: list[str] | None = None) -> list[str]:
    from core.ranges import usable_cores

    jobs = usable_cores()
    names = available(jobs)
    lines = [
        "### Summarize at every shape: whole process, median of "
        f"{runs}, peak RSS (84-column files; `core --jobs` = {jobs} processes)",
        "",
        "| file | keys | " + " | ".join(f"{n} s (MB)" for n in names) + " | core ÷ DuckDB | best core ÷ DuckDB |",
        "|---|---:|" + "---:|" * len(names) + "---:|---:|",
    ]
    for label, rows, pairs, days in SHAPES:
        if shapes and label not in shapes:
            continue
        path = work / "shape.csv"
        write_sample_file(path, rows, pairs(), [START + datetime.timedelta(days=n) for n in range(days)], seed=rows)
        expected = contender("core", str(path), 1)
        for name in names[1:]:
            assert contender(name, str(path), jobs) == expected, f"{name} disagrees with core on {label}"
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, int] = dict.fromkeys(names, 0)
        for _ in range(runs):
            for name in names:
                seconds, rss = whole_process(name, path, jobs)
                times[name].append(seconds)
                peaks[name] = max(peaks[name], rss)
        median = {name: statistics.median(values) for name, values in times.items()}
        cells = " | ".join(f"{median[n]:.2f} ({peaks[n]})" for n in names)
        duck = median.get("DuckDB")
        ratio = f"{duck / median['core']:.2f}×" if duck else "—"
        best = f"{duck / min(median[n] for n in names if n.startswith('core')):.2f}×" if duck else "—"
        size = path.stat().st_size / 1e6
        lines.append(f"| {label} ({size:.0f} MB) | {len(expected):,} | {cells} | {ratio} | {best} |")
        path.unlink()
    return [*lines, "", "Ratios are DuckDB's time ÷ core's: above 1.00× core is faster.", ""]


def main(argv: list[str] | None = None) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="iot-shapes-") as tmp:
        print("\n".join(run(Path(tmp), int((argv or sys.argv[1:] or ["3"])[0]))))


if __name__ == "__main__":
    main()
