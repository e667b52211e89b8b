"""The consolidation benchmark of issue 22: what a new file costs as the state grows along each axis.

Every measured invocation is the consolidate handler in a fresh process of its own (as a Lambda
execution environment would run it), against a moto server in another process: S3 bytes read and
written and requests (botocore's events), the handler's CPU seconds, and the process's peak RSS (what
Lambda's memory setting must hold, the interpreter and boto3 included). Files enter as published
summaries and status records (what summarize leaves); the state they meet is built beforehand through
the same protocol (storage.consolidated.State), unmeasured.

Axes, each with the others held:

* **population**: files of 2,000 pairs (drawn from the population, 10 branches, one day each) after
  states of 20k ... 2M pairs. The handler's tick runs after every TICK_EVERY files (100 branches x
  24 files a day and a tick every 300 s make about 8 files per tick), measured too: it rebuilds
  traffic_stats.csv or defers by its rule, and the per-file figure adds a rebuild's share over the
  files the rule lets pass between two rebuilds, and the deferred ticks' share.
* **rotation**: one branch's files of one day (2,000 pairs each from the branch's 5,000), the files
  after 24 against the files after 288.
* **burst**: a 100k-pair state, a DDoS capture of 500k new pairs, and normal files before and after.
* **export**: `clients.export` of a pair with 30 days, as a whole process, and the bytes it reads.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import math
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import layout
from core.counts import Counts, Key
from core.status import SUMMARIZED, FileStatus
from core.summary import write_summary

ROOT = Path(__file__).resolve().parent.parent
START = datetime.date(2024, 1, 1)
PAIRS_PER_FILE = 2_000
BRANCHES = 10
SEED_CHUNK = 100_000
"""Pairs per seed file (the unmeasured history that makes the population)."""
HISTORY_DAYS = 30
TICK_EVERY = 8
PUT_CLASS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "ListObjectsV2",
        "ListObjectVersions",
        "ListObjects",
    }
)
"""The S3 operations billed at the PUT, COPY, POST, LIST rate ($0.005 per 1,000 in us-east-1; GET and
HEAD $0.0004; DELETE free): docs/cost.md."""
PUT_PRICE, GET_PRICE = 0.005 / 1000, 0.0004 / 1000
BATCH_POPULATION = 200_000
"""The pairs of docs/cost.md's workload A (100 branches x 2,000 pairs), where the batch axis is measured."""
"""Files per tick: 100 branches x 24 files a day = 2,400 files a day; 288 ticks a day (300 s) -> 8.3."""
POPULATIONS = (20_000, 100_000, 500_000, 2_000_000)
EXPORT_PAIR = ("10.250.0.1", "172.31.0.1")


@dataclass
class Meter:
    """S3 bytes and requests of one client, from botocore's events; lost races from the store's backoff."""

    read: int = 0
    written: int = 0
    requests: int = 0
    put_class: int = 0
    """requests S3 bills at the PUT rate (PUT, COPY, POST, LIST)"""
    get_class: int = 0
    """requests S3 bills at the GET rate (GET, HEAD and the rest but DELETE, which is free)"""
    races: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, store: Any) -> None:
        store.s3.meta.events.register("before-call.s3", self._call)
        store.s3.meta.events.register("before-parameter-build.s3.PutObject", self._put)
        store.s3.meta.events.register("after-call.s3.GetObject", self._got)
        store.s3.meta.events.register("before-parameter-build.s3.UploadPart", self._put)
        store.sleep = self._lost_race

    def _call(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.requests += 1
            if model.name in PUT_CLASS:
                self.put_class += 1
            elif not model.name.startswith(("Delete", "Abort")):
                self.get_class += 1

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        body = params.get("Body", b"")
        size = len(body) if isinstance(body, bytes | bytearray) else _stream_size(body)
        with self.lock:
            self.written += size

    def _got(self, parsed: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.read += int(parsed.get("ContentLength", 0))

    def _lost_race(self, seconds: float) -> None:
        with self.lock:
            self.races += 1
        time.sleep(seconds)

    def reset(self) -> dict[str, int]:
        with self.lock:
            values = {
                "read": self.read,
                "written": self.written,
                "requests": self.requests,
                "put_class": self.put_class,
                "get_class": self.get_class,
                "races": self.races,
            }
            self.read = self.written = self.requests = self.put_class = self.get_class = self.races = 0
        return values


def _stream_size(body: Any) -> int:
    """The bytes left in a file-like body (a managed upload's part)."""
    try:
        here = body.tell()
        body.seek(0, os.SEEK_END)
        size = body.tell() - here
        body.seek(here)
        return int(size)
    except (AttributeError, OSError):
        return 0


# The measured invocation: a fresh process --------------------------------------------------------


def invoke(bucket: str, queue_url: str, keys: Sequence[str]) -> dict[str, Any]:
    """Run the consolidate handler in a fresh process on these keys ("tick" or "tick=SEEN": a tick); its
    measurements."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BUCKET_NAME": bucket, "CONSOLIDATE_QUEUE_URL": queue_url}
    done = subprocess.run(
        [sys.executable, "-m", "local.bench_consolidation", *keys],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the consolidate invocation failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _child(keys: list[str]) -> int:
    """The measured process: import the handler, then meter one invocation."""
    logging.disable(logging.CRITICAL)
    from handlers import consolidate
    from storage.consolidated import State, TickOutcome
    from storage.store import lambda_store

    outcomes: list[TickOutcome] = []
    tick = State.tick

    def observed(self: State, *args: Any, **kwargs: Any) -> TickOutcome:
        outcomes.append(tick(self, *args, **kwargs))
        return outcomes[-1]

    State.tick = observed  # type: ignore[method-assign]
    store = lambda_store(os.environ["BUCKET_NAME"])
    meter = Meter()
    meter.attach(store)
    if keys and keys[0].startswith("tick"):  # "tick" or "tick=SEEN": a tick told what the previous one found
        seen = keys[0].partition("=")[2]
        records: list[dict[str, Any]] = [{"tick": 0, **({"seen": int(seen)} if seen else {})}]
    else:
        records = [{"key": key} for key in keys]
    event = {"Records": [{"messageId": str(n), "body": json.dumps(body)} for n, body in enumerate(records)]}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    response = consolidate.handler(event, None)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    if response["batchItemFailures"]:
        print(f"failed: {response}", file=sys.stderr)
        return 1
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    rebuilt = any(outcome.rebuilt for outcome in outcomes)
    print(json.dumps({**meter.reset(), "cpu": cpu, "wall": wall, "peak_mb": _peak_mb(), "rebuilt": rebuilt}))
    return 0


def _peak_mb() -> float:
    """The process's peak RSS (VmHWM: fresh at exec, unlike ru_maxrss, which Linux carries over from the
    parent that forked this process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The world ---------------------------------------------------------------------------------------

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


def pair(n: int) -> tuple[str, str]:
    """The n-th pair of the population (distinct for n < 16.7M)."""
    scrambled = n * 7919
    return (
        f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
        f"172.{16 + (scrambled >> 20) % 16}.{scrambled >> 8 & 255}.{n & 255}",
    )


def day(n: int) -> str:
    return (START + datetime.timedelta(days=n)).isoformat()


class World:
    """One bucket and queue on the moto server: a state built unmeasured, files published as summarize would."""

    def __init__(self, name: str, history_days: int = HISTORY_DAYS) -> None:
        import boto3

        from storage.consolidated import State
        from storage.store import Store

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        self.bucket = name
        self.queue_url = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        self.store = Store(name, s3)
        self.state = State(self.store)
        self.files = 0
        self.history_days = history_days

    def after(self, days: int) -> str:
        """The date `days` after the seeded history."""
        return day(self.history_days + days)

    def seed(self, population: int) -> None:
        """A state of `population` pairs over the history's days (each pair on one day), and EXPORT_PAIR on
        every one of them, applied through the protocol, folded and ticked."""
        for start in range(0, population, SEED_CHUNK):
            rows: dict[str, list[list[Any]]] = {}
            for n in range(start, min(population, start + SEED_CHUNK)):
                rows.setdefault(day(n % self.history_days), []).append([*pair(n), 10**6 + n % 997, 1 + n % 89, 1])
            self.state.apply(f"seed/{start}", 1, rows)
        history = {day(d): [[*EXPORT_PAIR, 10**6 * (d + 1), 10 + d, 1]] for d in range(self.history_days)}
        self.state.apply("seed/export", 1, history)
        self.state.fold_all()
        self.state.rebuild_traffic_stats()

    def publish(self, totals: dict[Key, Counts], branch: str) -> str:
        """Publish a file's summaries and status as summarize leaves them; its raw key."""
        self.files += 1
        key = layout.raw_key(branch, f"flows-{self.files:05d}.csv")
        status = FileStatus.new(key)
        dates = sorted({k.date for k in totals})
        for date in dates:
            text = io.StringIO()
            write_summary(text, {k: c for k, c in totals.items() if k.date == date})
            self.store.put(layout.summary_key(date, status.source), text.getvalue().encode(), {layout.GENERATION: "1"})
        status.state, status.generation, status.published_generation = SUMMARIZED, 1, 1
        status.dates = status.published_dates = dates
        status.rows_read = status.rows_kept = len(totals)
        self.store.put(layout.status_key(key), status.dumps())
        return key

    def normal_file(
        self, population: int, on: str, rng: random.Random, branch: int, pairs: int = PAIRS_PER_FILE
    ) -> str:
        totals = {
            Key(on, *pair(n)): Counts(rng.randrange(10**3, 10**9), rng.randrange(1, 10**4), rng.randrange(1, 100))
            for n in rng.sample(range(population), min(pairs, population))
        }
        return self.publish(totals, f"branch-{branch}")

    def normal_file_of(self, pairs: range, rng: random.Random) -> str:
        """A file of one rotating branch: pairs from its own, on the first day after the history."""
        totals = {
            Key(self.after(0), *pair(n)): Counts(rng.randrange(10**3, 10**9), rng.randrange(1, 10**4), 1)
            for n in rng.sample(pairs, PAIRS_PER_FILE)
        }
        return self.publish(totals, "branch-rotating")

    def lacking(self) -> int:
        """The (day, pair) changes traffic_stats.csv lacks (what the tick's rule weighs), unmeasured."""
        return self.state.lacking() or 0

    def tables(self) -> tuple[int, int]:
        """All stats tables' bytes and pairs together, unmeasured."""
        from core.consolidated import SHARDS
        from storage.consolidated import PAIRS

        heads = [head for shard in range(SHARDS) if (head := self.store.head(layout.stats_table_key(shard)))]
        return sum(head.size for head in heads), sum(int(head.metadata[PAIRS]) for head in heads)

    def consolidate(self, keys: Sequence[str], measured: bool) -> dict[str, Any] | None:
        if measured:
            return invoke(self.bucket, self.queue_url, keys)
        from handlers import consolidate

        os.environ.update(BUCKET_NAME=self.bucket, CONSOLIDATE_QUEUE_URL=self.queue_url)
        records = [{"messageId": str(n), "body": json.dumps({"key": k})} for n, k in enumerate(keys)]
        assert consolidate.handler({"Records": records}, None) == {"batchItemFailures": []}
        return None

    def export(self, runs: int, work: Path) -> dict[str, float]:
        """The export of the pair seen on every day of the history (30 days in the benchmark): whole-process
        wall time (median) and the bytes State.pair_days reads."""
        from storage.consolidated import State
        from storage.store import Store

        store = Store(self.bucket, self.store.s3)
        meter = Meter()
        meter.attach(store)
        days = State(store).pair_days(*EXPORT_PAIR)
        assert days is not None and len(days) == self.history_days, days
        read = meter.reset()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            command = [sys.executable, "-m", "clients.export", *EXPORT_PAIR, "--bucket", self.bucket]
            done = subprocess.run(
                [*command, "--outputs", "none", "-o", str(work / "export.csv")],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
        seconds = statistics.median(times)
        return {"export_bytes": read["read"], "export_requests": read["requests"], "export_seconds": seconds}


def files_with_ticks(world: World, keys: Sequence[str], tick_every: int) -> dict[str, float]:
    """Consolidate each file in its own invocation, a tick after every `tick_every` (the handler's own
    tick: it rebuilds traffic_stats.csv or defers by its rule), then one rebuild (a tick told that
    nothing arrived since). Per-file means with the ticks' shares: a rebuild per `files_per_rebuild`
    files, the files the rule lets pass between two rebuilds at this arrival rate (from the delta bytes
    the files added and the stats tables' size), and the deferred ticks in between."""
    from storage.consolidated import DEFAULT_MAX_AGE_SECONDS, REBUILD_GROWTH, SMALL_TABLES

    files, ticks, added = [], [], 0
    for n, key in enumerate(keys, 1):
        before = world.lacking()
        files.append(world.consolidate([key], measured=True) or {})
        added += max(0, world.lacking() - before)
        if n % tick_every == 0:
            ticks.append(world.consolidate(["tick"], measured=True) or {})
    lacking = world.lacking()
    rebuilds = [t for t in ticks if t["rebuilt"]]
    if lacking:
        rebuilds.append(world.consolidate([f"tick={lacking}"], measured=True) or {})
    assert rebuilds and world.state.traffic_stats_current()
    deferred = [t for t in ticks if not t["rebuilt"]]
    (size, pairs), per_file = world.tables(), added / len(keys)
    if size <= SMALL_TABLES or per_file * tick_every * REBUILD_GROWTH >= pairs:
        files_per_rebuild = float(tick_every)
    else:
        ticks_between = min(math.ceil(pairs / REBUILD_GROWTH / per_file / tick_every), DEFAULT_MAX_AGE_SECONDS // 300)
        files_per_rebuild = float(ticks_between * tick_every)
    result: dict[str, float] = {"files_per_rebuild": files_per_rebuild, "delta_rows": per_file, "tables": size}
    for name in ("read", "written", "requests", "cpu"):
        own = statistics.mean(f[name] for f in files)
        rebuild = statistics.mean(t[name] for t in rebuilds)
        skip = statistics.mean(t[name] for t in deferred) if deferred else 0.0
        result[name] = own
        result[f"tick_{name}"] = rebuild
        result[f"deferred_{name}"] = skip
        result[f"all_{name}"] = own + (rebuild + skip * (files_per_rebuild / tick_every - 1)) / files_per_rebuild
    for prefix in ("", "tick_", "deferred_", "all_"):
        result[f"{prefix}bytes"] = result[f"{prefix}read"] + result[f"{prefix}written"]
    result["peak_mb"] = max(f["peak_mb"] for f in files)
    result["tick_peak_mb"] = max(t["peak_mb"] for t in rebuilds + deferred)
    return result


# The scenarios -----------------------------------------------------------------------------------


def population_axis(
    populations: Sequence[int], files: int, tick_every: int, runs: int, work: Path, history_days: int
) -> dict[int, dict[str, float]]:
    rows = {}
    for population in populations:
        world = World(f"population-{population}", history_days)
        started = time.perf_counter()
        world.seed(population)
        seeded = time.perf_counter() - started
        rng = random.Random(population)
        keys = [world.normal_file(population, world.after(n // BRANCHES), rng, n % BRANCHES) for n in range(files)]
        rows[population] = {**files_with_ticks(world, keys, tick_every), **world.export(runs, work), "seeded": seeded}
        print(f"population {population:,}: {rows[population]}", file=sys.stderr)
    return rows


def rotation_axis(
    points: Sequence[int], files: int, tick_every: int, population: int, history_days: int
) -> dict[int, dict[str, float]]:
    """One branch, one day: the `files` files after points[0]-files and after points[-1]-files."""
    world = World("rotation", history_days)
    world.seed(population)
    rng = random.Random(288)
    branch = range(population, population + 5_000)  # the branch's own 5,000 pairs, new to the state
    rows = {}
    for point in points:
        while world.files < point - files:
            keys = [world.normal_file_of(branch, rng) for _ in range(min(24, point - files - world.files))]
            world.consolidate(keys, measured=False)
        keys = [world.normal_file_of(branch, rng) for _ in range(files)]
        rows[point] = files_with_ticks(world, keys, tick_every)
        print(f"rotation {point}: {rows[point]}", file=sys.stderr)
    return rows


def size_axis(population: int, sizes: Sequence[int], files: int, history_days: int) -> dict[int, dict[str, float]]:
    """Files of each size (pairs per file) after the same state, each in its own invocation, no tick."""
    world = World("size", history_days)
    world.seed(population)
    rng = random.Random(50)
    rows = {}
    for size in sizes:
        keys = [world.normal_file(population, world.after(0), rng, n, size) for n in range(files)]
        measured = [world.consolidate([key], measured=True) or {} for key in keys]
        rows[size] = {name: statistics.mean(m[name] for m in measured) for name in ("read", "written", "cpu", "wall")}
        rows[size]["bytes"] = rows[size]["read"] + rows[size]["written"]
        rows[size]["peak_mb"] = max(m["peak_mb"] for m in measured)
        print(f"size {size}: {rows[size]}", file=sys.stderr)
    return rows


def burst_axis(files: int, tick_every: int, normal: int, burst: int, history_days: int) -> dict[str, dict[str, float]]:
    world = World("burst", history_days)
    world.seed(normal)
    rng = random.Random(500)
    before = [world.normal_file(normal, world.after(0), rng, n % BRANCHES) for n in range(files)]
    rows = {"before": files_with_ticks(world, before, tick_every)}
    totals = {
        Key(world.after(1), f"{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}.9", "10.0.0.1"): Counts(1000, 1, 1)
        for n in range(1, burst + 1)
    }
    ddos = world.publish(totals, "branch-0")
    rows["ddos"] = world.consolidate([ddos], measured=True) or {}
    rows["ddos"]["bytes"] = rows["ddos"]["read"] + rows["ddos"]["written"]
    rows["tick after"] = world.consolidate(["tick"], measured=True) or {}
    rows["tick after"]["bytes"] = rows["tick after"]["read"] + rows["tick after"]["written"]
    same_day = [world.normal_file(normal, world.after(1), rng, n % BRANCHES) for n in range(files)]
    rows["same day"] = files_with_ticks(world, same_day, tick_every)
    later = [world.normal_file(normal, world.after(2), rng, n % BRANCHES) for n in range(files)]
    rows["later day"] = files_with_ticks(world, later, tick_every)
    print(f"burst: {rows}", file=sys.stderr)
    return rows


def batch_axis(population: int, files: int, batches: Sequence[int], history_days: int) -> dict[int, dict[str, float]]:
    """The same kind of files consolidated `batch` to an invocation (a mapping's batching window gathers
    them), no tick: per-file requests by price class, bytes, CPU and peak memory."""
    world = World("batch", history_days)
    world.seed(population)
    rng = random.Random(8)
    rows = {}
    for batch in batches:
        keys = [world.normal_file(population, world.after(0), rng, n % BRANCHES) for n in range(files)]
        measured = [world.consolidate(keys[n : n + batch], measured=True) or {} for n in range(0, files, batch)]
        names = ("read", "written", "cpu", "put_class", "get_class")
        rows[batch] = {name: sum(m[name] for m in measured) / files for name in names}
        rows[batch]["bytes"] = rows[batch]["read"] + rows[batch]["written"]
        rows[batch]["dollars"] = rows[batch]["put_class"] * PUT_PRICE + rows[batch]["get_class"] * GET_PRICE
        rows[batch]["peak_mb"] = max(m["peak_mb"] for m in measured)
        print(f"batch {batch}: {rows[batch]}", file=sys.stderr)
    return rows


def batch_report(rows: dict[int, dict[str, float]], population: int, files: int) -> list[str]:
    batches = sorted(rows)
    base = rows[batches[0]]

    def row(label: str, name: str, scale: float, digits: int) -> str:
        cells = [
            f"{rows[b][name] / scale:,.{digits}f}"
            + (f" ({rows[b][name] / base[name]:.2f}×)" if b != batches[0] else "")
            for b in batches
        ]
        return f"| {label} | " + " | ".join(cells) + " |"

    return [
        f"Batches: {files} files of {PAIRS_PER_FILE:,} pairs after a state of {population:,} pairs (docs/cost.md's "
        "workload A), consolidated one to an invocation and several to an invocation (what "
        "`consolidateBatchingWindow` gathers), no tick; per file:",
        "",
        "| per file | " + " | ".join(f"{b} file{'s' if b > 1 else ''} per invocation" for b in batches) + " |",
        "|---|" + "---:|" * len(batches),
        row("S3 PUT-class requests (PUT, LIST)", "put_class", 1, 2),
        row("S3 GET-class requests (GET, HEAD)", "get_class", 1, 2),
        row("S3 request cost, $ per 1,000 files (us-east-1 list prices)", "dollars", 1e-3, 4),
        row("S3 MB read + written", "bytes", 1e6, 2),
        row("handler CPU s", "cpu", 1, 3),
        row("peak RSS MB (largest invocation)", "peak_mb", 1, 0),
        "",
    ]


# The report --------------------------------------------------------------------------------------


def run(
    work: Path,
    populations: Sequence[int] = POPULATIONS,
    files: int = 16,
    runs: int = 5,
    rotation: Sequence[int] = (24, 288),
    burst: tuple[int, int] = (100_000, 500_000),
    tick_every: int = TICK_EVERY,
    sizes: Sequence[int] = (PAIRS_PER_FILE, 50_000),
    history_days: int = HISTORY_DAYS,
    batches: Sequence[int] = (1, 8),
    batch_population: int = BATCH_POPULATION,
) -> list[str]:
    started = time.perf_counter()
    with moto_environment():
        by_population = population_axis(populations, files, tick_every, runs, work, history_days)
        by_rotation = rotation_axis(rotation, min(files, tick_every), tick_every, min(populations), history_days)
        by_burst = burst_axis(min(files, tick_every), tick_every, *burst, history_days)
        by_size = size_axis(burst[0], sizes, max(2, min(files, tick_every) // 2), history_days)
        by_batch = batch_axis(batch_population, max(batches) * 2, batches, history_days)
    seconds = time.perf_counter() - started
    lines = report(by_population, by_rotation, by_burst, files, runs, burst, tick_every, seconds)
    return lines + size_report(by_size, burst[0]) + batch_report(by_batch, batch_population, max(batches) * 2)


def size_report(rows: dict[int, dict[str, float]], population: int) -> list[str]:
    sizes = sorted(rows)
    small = rows[sizes[0]]

    def row(label: str, name: str, scale: float, digits: int) -> str:
        cells = [f"{rows[size][name] / scale:,.{digits}f}" for size in sizes]
        return f"| {label} | " + " | ".join(cells) + f" | {rows[sizes[-1]][name] / small[name]:.1f}× |"

    return [
        f"File size: files of each size after a state of {population:,} pairs, each in its own invocation "
        "(no tick), means:",
        "",
        "| per file | " + " | ".join(f"{size:,} pairs" for size in sizes) + " | ratio |",
        "|---|" + "---:|" * (len(sizes) + 1),
        row("S3 MB read + written", "bytes", 1e6, 2),
        row("handler CPU s", "cpu", 1, 3),
        row("handler wall s", "wall", 1, 3),
        row("peak RSS MB", "peak_mb", 1, 0),
        "",
    ]


def report(
    population: dict[int, dict[str, float]],
    rotation: dict[int, dict[str, float]],
    burst: dict[str, dict[str, float]],
    files: int,
    runs: int,
    sizes: tuple[int, int],
    tick_every: int,
    seconds: float,
) -> list[str]:
    from storage.consolidated import REBUILD_GROWTH

    points = sorted(population)
    base = population[points[0]]

    def row(label: str, name: str, scale: float, digits: int = 2) -> str:
        cells = []
        for point in points:
            value = population[point][name]
            ratio = f" ({value / base[name]:.2f}×)" if point != points[0] and base[name] else ""
            cells.append(f"{value / scale:,.{digits}f}{ratio}")
        return f"| {label} | " + " | ".join(cells) + " |"

    first, last = sorted(rotation)
    r0, r1 = rotation[first], rotation[last]

    def ratio_row(label: str, name: str, scale: float, a: dict[str, float], b: dict[str, float]) -> str:
        return f"| {label} | {a[name] / scale:,.2f} | {b[name] / scale:,.2f} | {b[name] / a[name]:.2f}× |"

    before, after, later = burst["before"], burst["same day"], burst["later day"]
    ddos, tick = burst["ddos"], burst["tick after"]
    return [
        "### Consolidation: cost per new file along population, rotation and a burst (issue 22)",
        "",
        f"Each invocation is the consolidate handler in a fresh process (S3 bytes and requests from botocore's "
        f"events, CPU of the handler call, peak RSS of the process, interpreter and boto3 included) against a "
        f"moto server in its own process. Files of {PAIRS_PER_FILE:,} pairs, {BRANCHES} branches, one day each; "
        f"a tick after every {tick_every} files (100 branches × 24 files a day with a tick every 300 s); means over "
        f"{files} files per point. The tick rebuilds traffic_stats.csv when the (day, pair) changes it lacks "
        f"reach 1/{REBUILD_GROWTH} of the pairs (or the stats tables are under 4 MB), else defers; *amortised* "
        "rows add a rebuild per *files per rebuild* (that rule applied to the changes these files added and the "
        "pairs, at most 6 hours of ticks: statsMaxAgeSeconds) and the deferred ticks between. The "
        "rebuild measured is the handler's, after the files (a tick told nothing arrived since). "
        f"{seconds / 60:.0f} minutes in all (`python -m local.bench --only consolidation`).",
        "",
        "| per new file | " + " | ".join(f"{p:,} pairs in the state" for p in points) + " |",
        "|---|" + "---:|" * len(points),
        row("S3 MB read + written, **amortised**", "all_bytes", 1e6),
        row("… the file's own invocation (apply, the folds it picked)", "bytes", 1e6),
        row("… a rebuild (fold every shard, write traffic_stats.csv), per rebuild", "tick_bytes", 1e6),
        row("… a deferred tick", "deferred_bytes", 1e6, 3),
        row("files per rebuild (the tick's rule; hours at 8 files per 300 s = files / 96)", "files_per_rebuild", 1, 0),
        row("… (day, pair) changes a file adds to what traffic_stats.csv lacks", "delta_rows", 1, 0),
        row("… stats tables, MB", "tables", 1e6, 1),
        row("S3 requests, amortised", "all_requests", 1, 0),
        row("handler CPU s, **amortised**", "all_cpu", 1, 3),
        row("… the file's own invocation", "cpu", 1, 3),
        row("… a rebuild, per rebuild", "tick_cpu", 1, 3),
        row("… a deferred tick", "deferred_cpu", 1, 3),
        row("peak RSS MB of a file's invocation (largest)", "peak_mb", 1, 0),
        row("peak RSS MB of a tick (largest, rebuild or deferred)", "tick_peak_mb", 1, 0),
        row(f"export of a 30-day pair: MB read ({runs} runs)", "export_bytes", 1e6, 3),
        row("… GET requests", "export_requests", 1, 0),
        row("… `python -m clients.export`, whole process, median s", "export_seconds", 1, 2),
        row("(building the state, unmeasured, s)", "seeded", 1, 0),
        "",
        f"Rotation: one branch's files of one day (its 5,000 pairs; {min(population):,} pairs in the state), "
        f"the {tick_every} files after "
        f"{first - tick_every} and after {last - tick_every} of that day:",
        "",
        f"| per file | files {first - tick_every + 1}–{first} | files {last - tick_every + 1}–{last} | ratio |",
        "|---|---:|---:|---:|",
        ratio_row("S3 MB read + written, amortised", "all_bytes", 1e6, r0, r1),
        ratio_row("handler CPU s, amortised", "all_cpu", 1, r0, r1),
        ratio_row("peak RSS MB", "peak_mb", 1, r0, r1),
        "",
        f"Burst: a state of {sizes[0]:,} pairs, then one capture of {sizes[1]:,} new pairs (a DDoS day). The "
        f"capture's invocation: {ddos['bytes'] / 1e6:,.1f} MB, {ddos['cpu']:.1f} s CPU, peak "
        f"{ddos['peak_mb']:,.0f} MB; the tick after it ({'a rebuild' if tick['rebuilt'] else 'deferred'}): "
        f"{tick['bytes'] / 1e6:,.1f} MB, {tick['cpu']:.1f} s CPU, "
        f"peak {tick['peak_mb']:,.0f} MB.",
        "",
        "| per normal file | before the burst | the burst's day, after it | the next day | next day / before |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {label} | {before[name] / scale:,.2f} | {after[name] / scale:,.2f} | {later[name] / scale:,.2f} "
            f"| {later[name] / before[name]:.2f}× |"
            for label, name, scale in (
                ("S3 MB read + written, amortised", "all_bytes", 1e6),
                ("handler CPU s, amortised", "all_cpu", 1),
                ("peak RSS MB of a file's invocation", "peak_mb", 1),
            )
        ),
        "",
    ]


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
