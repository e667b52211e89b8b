"""nox -s bench: every performance figure of the product, measured side by side in one run.

Writes the table to stdout and to docs/benchmarks.md. Contenders run alternately, several times,
and the table reports medians and ratios, so that a noisy machine affects them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import layout
from local import bench_consolidation, bench_shapes
from local.naive import daily_totals
from local.samples import device_pairs, write_flows, write_sample_file

ROOT = Path(__file__).resolve().parent.parent
START = datetime.date(2024, 1, 1)
Totals = dict[tuple[str, str, str], tuple[int, int, int]]


def median_of(runs: int, contenders: dict[str, Callable[[], Any]]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def core_totals(path: Path) -> Totals:
    """core on one process, reading the file as `python -m core.summarize` does."""
    from core.ranges import summarize_path

    return {tuple(k): tuple(v) for k, v in summarize_path(str(path), 1).totals.items()}  # type: ignore[misc]


def naive_totals(path: Path) -> Totals:
    return {
        (day, src, dst): (v[0], v[1], 0) for (src, dst), days in daily_totals([path]).items() for day, v in days.items()
    }


def pandas_totals(path: Path) -> Totals:
    import pandas as pd

    columns = ["Src IP", "Dst IP", "Timestamp", "Flow Duration", "Tot Fwd Pkts"]
    frame = pd.read_csv(path, usecols=columns, encoding="utf-8-sig", dtype={"Src IP": str, "Dst IP": str})
    stamp = frame["Timestamp"].str
    frame["Date"] = stamp.slice(6, 10) + "-" + stamp.slice(3, 5) + "-" + stamp.slice(0, 2)
    grouped = frame.groupby(["Date", "Src IP", "Dst IP"]).agg(
        d=("Flow Duration", "sum"), p=("Tot Fwd Pkts", "sum"), n=("Flow Duration", "size")
    )
    return {key: (int(r.d), int(r.p), int(r.n)) for key, r in zip(grouped.index, grouped.itertuples(), strict=True)}


def duckdb_totals(path: Path) -> Totals:
    import duckdb

    rows = duckdb.sql(
        f"""SELECT strftime(strptime(split_part("Timestamp", ' ', 1), '%d/%m/%Y'), '%Y-%m-%d'),
                   "Src IP", "Dst IP", sum("Flow Duration")::HUGEINT, sum("Tot Fwd Pkts")::HUGEINT, count(*)
            FROM read_csv('{path}', header = true,
                          types = {{'Timestamp': 'VARCHAR', 'Src IP': 'VARCHAR', 'Dst IP': 'VARCHAR'}})
            GROUP BY ALL"""
    ).fetchall()
    return {(d, s, t): (int(a), int(b), int(c)) for d, s, t, a, b, c in rows}


def bench_summarize(work: Path, rows: int, runs: int) -> list[str]:
    path = work / "flows.csv"
    days = [START + datetime.timedelta(days=n) for n in range(3)]
    write_sample_file(path, rows, device_pairs(3, 150) + device_pairs(4, 150), days, seed=7)
    expected = core_totals(path)
    pandas_result, duck_result = pandas_totals(path), duckdb_totals(path)
    assert pandas_result == expected, "pandas disagrees with core"
    assert duck_result == expected, "DuckDB disagrees with core"
    assert {k: v[:2] for k, v in naive_totals(path).items()} == {k: v[:2] for k, v in expected.items()}
    medians = median_of(
        runs,
        {
            "core": lambda: core_totals(path),
            "original algorithm (DictReader + strptime)": lambda: naive_totals(path),
            "pandas read_csv(usecols) + groupby": lambda: pandas_totals(path),
            "DuckDB read_csv + GROUP BY": lambda: duckdb_totals(path),
        },
    )
    size = path.stat().st_size / 1e6
    lines = [f"### Summarize throughput: one {rows:,}-row, 84-column file ({size:.0f} MB), median of {runs}", ""]
    lines += ["| contender | median s | rows/s | core speed ÷ contender speed |", "|---|---:|---:|---:|"]
    for name, seconds in medians.items():
        lines.append(f"| {name} | {seconds:.3f} | {rows / seconds:,.0f} | {seconds / medians['core']:.2f}× |")
    return [*lines, "", "All four outputs were checked equal before timing.", ""]


PEAK_RSS_REPORTER = (
    "import atexit, sys\n"
    "def _report():\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    "    sys.stderr.write(f'PEAK_RSS_KB {hwm}\\n')\n"
    "atexit.register(_report)\n"
)


def peak_rss_of(code: str, stdin: Any = None, env: dict[str, str] | None = None) -> tuple[int, int]:
    """Peak RSS (MB) of `python -c code`, read from the child's own VmHWM: a forked child's
    ru_maxrss would include the pages it shared with this (large) benchmark process."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_REPORTER + code],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
        text=True,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed: {done.stderr[-2000:]}")
    return int(lines[-1].split()[1]) // 1024, done.returncode


def bench_memory(work: Path, gigabytes: float) -> list[str]:
    block = io.BytesIO()
    days = [START + datetime.timedelta(days=n) for n in range(5)]
    write_flows(block, 20_000, device_pairs(5, 300), days, seed=3)
    data = block.getvalue()
    header_end = data.index(b"\n") + 1
    repeats = int(gigabytes * 1e9 / (len(data) - header_end))
    feeder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; d = open(sys.argv[1], 'rb').read(); h = d.index(b'\\n') + 1; o = sys.stdout.buffer;"
            "o.write(d[:h]); [o.write(d[h:]) for _ in range(int(sys.argv[2]))]",
            str(work / "block.csv"),
            str(repeats),
        ],
        stdout=subprocess.PIPE,
    )
    (work / "block.csv").write_bytes(data)
    started = time.perf_counter()
    rss, code = peak_rss_of(
        "import runpy; sys.argv = ['core.summarize', '-']; runpy.run_module('core.summarize', run_name='__main__')",
        stdin=feeder.stdout,
    )
    seconds = time.perf_counter() - started
    feeder.wait()
    assert code == 0, "core.summarize failed on the stream"
    total = repeats * (len(data) - header_end) / 1e9
    return [
        f"### Memory: `python -m core.summarize -` fed {total:.2f} GB on stdin",
        "",
        f"Peak RSS {rss} MB (target ≤ 64 MB), {seconds:.1f} s, {total * 1000 / seconds:.0f} MB/s.",
        "",
    ]


def bench_s3_streaming(work: Path, megabytes: int) -> list[str]:
    """The summarize handler against a moto server: a large object with few pairs, and a 2M-row object
    with 500k pairs (the high-cardinality shape of issue 15), each in a process of its own."""
    rows = megabytes * 1_000_000 // 460
    few = device_pairs(6, 400)
    many = [pair for branch in range(1, 11) for pair in device_pairs(branch, 50_000)]
    objects = [
        (f"{rows:,} rows, {len(few)} pairs, 4 days", rows, few, 4, "target ≤ 128 MB"),
        (f"2,000,000 rows, {len(many):,} pairs, 1 day", 2_000_000, many, 1, "target ≤ 512 MB (the default memory)"),
    ]
    lines = [
        "### Streaming from S3: the summarize handler on large objects (moto server, one process)",
        "",
        "| object | size | distinct keys | peak RSS | seconds | files left in TMPDIR | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, count, pairs, days, target in objects:
        path = work / "big.csv"
        write_sample_file(path, count, pairs, [START + datetime.timedelta(days=n) for n in range(days)], seed=11)
        rss, seconds, leftovers, keys = _summarize_handler_on(work, path)
        size = path.stat().st_size / 1e6
        path.unlink()
        lines.append(f"| {label} | {size:.0f} MB | {keys:,} | {rss} MB | {seconds:.1f} | {leftovers} | {target} |")
    return [*lines, ""]


def _summarize_handler_on(work: Path, path: Path) -> tuple[int, float, int, int]:
    """Peak RSS (MB), seconds, files left in TMPDIR and distinct keys of the summarize handler on the file."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
        s3 = boto3.client("s3", endpoint_url=endpoint, **credentials)
        sqs = boto3.client("sqs", endpoint_url=endpoint, **credentials)
        s3.create_bucket(Bucket="bench")
        s3.put_bucket_versioning(Bucket="bench", VersioningConfiguration={"Status": "Enabled"})
        queue = sqs.create_queue(QueueName="consolidate")["QueueUrl"]
        key = layout.raw_key("big", "big.csv")
        s3.upload_file(str(path), "bench", key)
        scratch = work / "tmp"
        scratch.mkdir(exist_ok=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BUCKET_NAME": "bench",
            "CONSOLIDATE_QUEUE_URL": queue,
            "TMPDIR": str(scratch),
            "PYTHONPATH": str(ROOT),
        }
        code = (
            "from handlers.config import summarize_settings; from handlers.summarize import summarize_object;"
            "from storage.store import lambda_store; settings = summarize_settings();"
            f"s = summarize_object(lambda_store(settings.bucket), settings, {key!r}, 600);"
            "assert s is not None and s.rows_kept > 0"
        )
        started = time.perf_counter()
        rss, exit_code = peak_rss_of(code, env=env)
        seconds = time.perf_counter() - started
        assert exit_code == 0, "the summarize handler failed"
        leftovers = len(list(scratch.iterdir()))
        keys = sum(
            len(s3.get_object(Bucket="bench", Key=item["Key"])["Body"].read().splitlines()) - 1
            for item in s3.list_objects_v2(Bucket="bench", Prefix=layout.SUMMARIES_PREFIX).get("Contents", [])
        )
    finally:
        server.stop()
    return rss, seconds, leftovers, keys


def bench_end_to_end(work: Path, files: int, rows: int) -> list[str]:
    from clients import upload
    from local.stack import LocalStack

    folder = work / "e2e"
    for n in range(files):
        days = [START + datetime.timedelta(days=n + d) for d in range(2)]
        write_sample_file(folder / f"f{n:02d}.csv", rows, device_pairs(9, 200), days, seed=n)
    with LocalStack(workers=4, function_logs=work / "function-logs.jsonl") as stack:
        outputs = work / "outputs.json"
        outputs.write_text(json.dumps(stack.outputs))
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = upload.main([str(folder), "--wait", "--quiet", "--timeout", "900", "--outputs", str(outputs)])
        seconds = time.perf_counter() - started
    assert code == 0, "end-to-end upload --wait failed"
    flows = files * rows
    return [
        f"### End to end through the local stack: {files} files, {flows:,} flows, 4 workers per mapping",
        "",
        f"{seconds:.1f} s from the start of the upload to the last file consolidated: {flows / seconds:,.0f} flows/s.",
        "",
    ]


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return (
        f"{os.cpu_count()} cores {model}, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


SECTIONS = ("summarize", "shapes", "memory", "s3", "consolidation", "end-to-end")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the summarize benchmark file")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per contender")
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the stdin memory test")
    parser.add_argument("--s3-megabytes", type=int, default=300, help="size of the S3 streaming object")
    parser.add_argument("--files", type=int, default=16, help="measured files per point of the consolidation run")
    parser.add_argument(
        "--populations",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(bench_consolidation.POPULATIONS),
        help="pairs in the state at each point of the consolidation run (default: 20000,100000,500000,2000000)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="also write the report (Markdown) to this file, e.g. docs/benchmarks.md to update the published one",
    )
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable; default: all of them)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # The handlers log one INFO record per file; the expected lease clashes and retries are not news here.
    logging.getLogger("iot.handlers").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="iot-bench-") as tmp:
        work = Path(tmp)
        chosen = args.only or SECTIONS
        runs: dict[str, Callable[[], list[str]]] = {
            "summarize": lambda: bench_summarize(work, args.rows, args.runs),
            "memory": lambda: bench_memory(work, args.gigabytes),
            "s3": lambda: bench_s3_streaming(work, args.s3_megabytes),
            "shapes": lambda: bench_shapes.run(work, min(args.runs, 3)),
            "consolidation": lambda: bench_consolidation.run(work, args.populations, args.files, args.runs),
            "end-to-end": lambda: bench_end_to_end(work, 8, 50_000),
        }
        sections = [runs[name]() for name in SECTIONS if name in chosen]
    body = "\n".join(line for section in sections for line in section)
    text = (
        "# Benchmarks\n\n"
        f"Machine: {machine()}. Run on {datetime.date.today().isoformat()} with `nox -s bench` "
        f"(`python -m local.bench --rows {args.rows} --runs {args.runs}`).\n\n"
        "Ratios compare contenders measured alternately in the same run.\n\n" + body
    )
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
