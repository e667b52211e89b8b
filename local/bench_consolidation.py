"""The consolidation benchmark of issue 13: cost per new file after 20 and after 1,000 files.

Workload: files of one day each, 2,000 pairs per file drawn from a population of 20,000, from 4
branches over 60 days, arriving in day order (as probes send them: every branch's files of a day,
then the next day's). Files enter as published summaries and status records (what summarize
leaves), so the run measures the consolidate handler alone, against a moto server: S3 bytes read
and written per file, requests, lost conditional-write races, wall time; then `clients.export` of
one pair, as a whole process, and 16 concurrent consolidators.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import layout
from core.consolidated import COMPACT_AFTER_DAYS
from core.counts import Counts, Key
from core.status import SUMMARIZED, FileStatus
from core.summary import write_summary

ROOT = Path(__file__).resolve().parent.parent
START = datetime.date(2024, 1, 1)
BRANCHES = 4
DAYS = 60
POPULATION = 20_000
PAIRS_PER_FILE = 2_000


@dataclass
class Meter:
    """S3 bytes and requests of one client, from botocore's events; lost races from the store's backoff."""

    read: int = 0
    written: int = 0
    requests: int = 0
    races: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, store: Any) -> None:
        store.s3.meta.events.register("before-call.s3", self._call)
        store.s3.meta.events.register("before-parameter-build.s3.PutObject", self._put)
        store.s3.meta.events.register("after-call.s3.GetObject", self._got)
        store.sleep = self._lost_race

    def _call(self, **_: Any) -> None:
        with self.lock:
            self.requests += 1

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.written += len(params.get("Body", b""))

    def _got(self, parsed: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.read += int(parsed.get("ContentLength", 0))

    def _lost_race(self, seconds: float) -> None:
        with self.lock:
            self.races += 1
        time.sleep(seconds)

    def reset(self) -> tuple[int, int, int, int]:
        with self.lock:
            values = (self.read, self.written, self.requests, self.races)
            self.read = self.written = self.requests = self.races = 0
        return values


def population() -> list[tuple[str, str]]:
    rng = random.Random(13)
    return [
        (f"10.{n // 40000}.{n // 200 % 200}.{n % 200 + 1}", f"172.16.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        for n in range(POPULATION)
    ]


class Workload:
    def __init__(self, store: Any, files: int) -> None:
        self.store = store
        self.pairs = population()
        self.files_per_day = files / DAYS
        self.added = 0

    def key(self, n: int) -> str:
        return layout.raw_key(f"branch-{n % BRANCHES}", f"flows-{n:05d}.csv")

    def day(self, n: int) -> str:
        """Files arrive in day order, ≈ files / DAYS a day; the files measured after the history are
        the next day's (so both points measure a day filling up, not a full day against an empty one)."""
        return (START + datetime.timedelta(days=int(n / self.files_per_day))).isoformat()

    def add(self) -> str:
        """Publish the next file's summary and status, as summarize would; returns its raw key."""
        n, self.added = self.added, self.added + 1
        rng = random.Random(n)
        key, day = self.key(n), self.day(n)
        totals = {
            Key(day, src, dst): Counts(rng.randrange(10**3, 10**9), rng.randrange(1, 10**4), rng.randrange(1, 100))
            for src, dst in rng.sample(self.pairs, PAIRS_PER_FILE)
        }
        status = FileStatus.new(key)
        text = io.StringIO()
        write_summary(text, totals)
        self.store.put(layout.summary_key(day, status.source), text.getvalue().encode(), {layout.GENERATION: "1"})
        status.state, status.generation, status.published_generation = SUMMARIZED, 1, 1
        status.dates = status.published_dates = [day]
        status.rows_read = status.rows_kept = len(totals)
        self.store.put(layout.status_key(key), status.dumps())
        return key


def event(*keys: str) -> dict[str, Any]:
    return {"Records": [{"messageId": str(n), "body": json.dumps({"key": k})} for n, k in enumerate(keys)]}


MOTO_SERVER = (
    "import sys; from local.moto_fixes import apply; apply(); from moto.server import main; "
    "main(['-H', '127.0.0.1', '-p', sys.argv[1]])"
)


@contextlib.contextmanager
def moto_environment() -> Iterator[str]:
    """A moto server in a process of its own (its CPU is S3's, not the handler's) and the environment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER, str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        BUCKET_NAME="consolidation",
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)
        os.environ.clear()
        os.environ.update(saved)


def state_size(store: Any) -> tuple[int, int]:
    objects = size = 0
    for page in store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix="consolidated/"):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return objects, size


def export_seconds(endpoint: str, pair: tuple[str, str], runs: int, work: Path) -> tuple[float, float, int]:
    """Median wall time of `python -m clients.export` as a whole process and in-process, and its days."""
    from clients import export

    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": endpoint}
    arguments = [*pair, "--bucket", "consolidation", "--outputs", "none", "-o", str(work / "export.csv")]
    inside = []
    for _ in range(runs):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert export.main(arguments) == 0
        inside.append(time.perf_counter() - started)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "clients.export",
                *pair,
                "--bucket",
                "consolidation",
                "--outputs",
                "none",
                "-o",
                str(work / "export.csv"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stderr
    days = len((work / "export.csv").read_text().splitlines()) - 1
    return statistics.median(times), statistics.median(inside), days


def export_reads(store: Any, meter: Meter, pair: tuple[str, str]) -> int:
    """The objects an export of the pair reads (the GETs of `Store.pair_days`)."""
    meter.reset()
    assert store.pair_days(*pair)
    return meter.reset()[2]


def run(work: Path, small: int = 20, large: int = 1000, runs: int = 5) -> list[str]:
    from handlers import consolidate
    from storage.store import lambda_store

    # Each point is the mean over the files of COMPACT_AFTER_DAYS days: one compaction cycle of the
    # month parts, so their amortized cost is in it whatever day the window starts on.
    measured = round(COMPACT_AFTER_DAYS * large / DAYS)

    with moto_environment() as endpoint:
        lambda_store.cache_clear()
        store = lambda_store("consolidation")
        store.s3.create_bucket(Bucket="consolidation")
        store.s3.put_bucket_versioning(Bucket="consolidation", VersioningConfiguration={"Status": "Enabled"})
        meter = Meter()
        meter.attach(store)
        workload = Workload(store, large)
        pair = workload.pairs[0]
        rows: dict[int, dict[str, float]] = {}
        loading = 0.0
        for point in (small, large):
            started = time.perf_counter()
            while workload.added < point:
                batch = [workload.add() for _ in range(min(20, point - workload.added))]
                assert consolidate.handler(event(*batch), None) == {"batchItemFailures": []}
            loading += time.perf_counter() - started
            objects, size = state_size(store)
            export, export_inside, days = export_seconds(endpoint, pair, runs, work)
            reads = export_reads(store, meter, pair)
            keys = [workload.add() for _ in range(measured)]
            meter.reset()
            times = []
            for key in keys:
                started = time.perf_counter()
                assert consolidate.handler(event(key), None) == {"batchItemFailures": []}
                times.append(time.perf_counter() - started)
            read, written, requests, races = meter.reset()
            rows[point] = {
                "bytes": (read + written) / measured,
                "read": read / measured,
                "written": written / measured,
                "requests": requests / measured,
                "races": races / measured,
                "seconds": statistics.mean(times),
                "slowest": max(times),
                "export": export,
                "export_inside": export_inside,
                "export_days": days,
                "export_reads": reads,
                "objects": objects,
                "size": size,
            }
        concurrent = concurrent_consolidators(workload, meter, consolidate, 16, 4)
    lambda_store.cache_clear()
    return report(rows, small, large, measured, runs, concurrent, loading)


def concurrent_consolidators(
    workload: Workload, meter: Meter, consolidate: Any, workers: int, each: int
) -> dict[str, Any]:
    keys = [workload.add() for _ in range(workers * each)]
    meter.reset()
    failures = []

    def worker(n: int) -> None:
        for key in keys[n::workers]:
            response = consolidate.handler(event(key), None)
            failures.extend(response["batchItemFailures"])

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    seconds = time.perf_counter() - started
    _, _, requests, races = meter.reset()
    return {"files": len(keys), "races": races, "failures": len(failures), "seconds": seconds, "requests": requests}


def report(
    rows: dict[int, dict[str, float]],
    small: int,
    large: int,
    measured: int,
    runs: int,
    concurrent: dict[str, Any],
    loading: float,
) -> list[str]:
    a, b = rows[small], rows[large]

    def line(label: str, name: str, unit: str, scale: float, target: str) -> str:
        ratio = b[name] / a[name] if a[name] else float("nan")
        return f"| {label} | {a[name] / scale:,.2f} {unit} | {b[name] / scale:,.2f} {unit} | {ratio:.2f}× | {target} |"

    return [
        f"### Consolidation at scale: after {small} and after {large} files (issue 13)",
        "",
        f"Files of one day, {PAIRS_PER_FILE:,} pairs each drawn from {POPULATION:,}, {BRANCHES} branches, "
        f"{DAYS} days, in day order (≈ {large / DAYS:.1f} files a day); each point is the mean over the next "
        f"{measured} files ({COMPACT_AFTER_DAYS} days' worth: one compaction cycle of the month parts), "
        f"consolidated one per invocation (S3 bytes from botocore's events, moto server in its own process), "
        f"the export the median of {runs} whole-process runs of `python -m clients.export` for one pair. "
        f"Loading took {loading:.0f} s (batches of 20).",
        "",
        f"| per new file | after {small} | after {large} | ratio | target |",
        "|---|---:|---:|---:|---:|",
        line("S3 bytes read + written by the consolidate handler", "bytes", "MB", 1e6, "≤ 1.3×"),
        line("… read", "read", "MB", 1e6, ""),
        line("… written", "written", "MB", 1e6, ""),
        line("S3 requests", "requests", "", 1, ""),
        line("handler wall time (mean)", "seconds", "s", 1, "≤ 1.3×"),
        line("… the slowest file (it compacted month parts)", "slowest", "s", 1, ""),
        line("`clients.export` of one pair (whole process)", "export", "s", 1, "≤ 1.3×"),
        line("… in-process (`clients.export.main`)", "export_inside", "s", 1, ""),
        line("… days in that export", "export_days", "", 1, ""),
        line("… objects it reads (stats part, month parts, day parts newer than those)", "export_reads", "", 1, ""),
        line("consolidated state: objects", "objects", "", 1, ""),
        line("consolidated state: size", "size", "MB", 1e6, ""),
        "",
        f"16 concurrent consolidators, {concurrent['files']} new files, one per invocation: "
        f"{concurrent['races'] / concurrent['files']:.1f} lost conditional writes per file (each retried after a "
        f"jittered backoff; at most 12 attempts per write), {concurrent['failures']} record(s) failed, "
        f"{concurrent['seconds']:.1f} s in all, {concurrent['requests'] / concurrent['files']:.0f} requests per file.",
        "",
    ]
