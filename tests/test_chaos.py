"""Exactly-once under chaos, on a local stack of its own: 8 workers per mapping, every message delivered
twice, 2% of the functions' AWS calls failing (half of them after taking effect), up to 50 ms of
latency on each, v2 commits held 3 s, the consolidator slowed, and one summarize invocation held past
its timeout mid-publication so the emulator kills it. Three names are uploaded three times each, with
disjoint pairs per version, as fast as the client can: the end state must be exactly the last upload
of each name, in traffic_stats.csv, in every export, and in summaries/ (no orphan, no stale day)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import export, upload
from core import layout
from local.naive import daily_totals, stats_lines
from local.samples import device_pairs, write_sample_file
from tests.conftest import RunningStack, start_stack

CHAOS_CONFIG = (
    "summarizeTimeout=5",
    "consolidateTimeout=10",
    "summarizeMaxConcurrency=8",
    "consolidateMaxConcurrency=8",
    "statsRebuildSeconds=10",  # the tick (fold every shard, rebuild traffic_stats.csv) soon after each file
)
HELD_IP = "10.250.2.1"
"""A pair of the last version of the first name: publishing its summary outlives the function timeout, once."""


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from start_stack(
        tmp_path_factory.mktemp("chaos"),
        CHAOS_CONFIG,
        "--failure-rate=0.02",
        "--latency=0.05",
        '--delay=summarize:PutObject:"generation": 2:3',
        "--delay=consolidate:GetObject:summaries/:0.3",
        f"--delay=summarize:PutObject:{HELD_IP}:8:1",
    )


def version(folder: Path, name: str, v: int, n: int) -> None:
    pairs = device_pairs(200 + 10 * n + v, 4)
    if (n, v) == (0, 3):
        pairs = [(HELD_IP, "8.8.4.4"), *pairs]
    day = datetime.date(2024, 5, 1) + datetime.timedelta(days=v + n)
    write_sample_file(folder / name, 200, pairs, [day, day + datetime.timedelta(days=1)], seed=100 * n + v)


def test_the_last_upload_of_each_name_wins_exactly(chaos_stack: RunningStack, tmp_path: Path) -> None:
    common = ["--quiet", "--branch", "chaos", "--outputs", str(chaos_stack.outputs_file)]
    names = [f"log{n}.csv" for n in range(3)]
    for v in (1, 2, 3):
        folder = tmp_path / f"v{v}"
        for n, name in enumerate(names):
            version(folder, name, v, n)
        last = v == 3
        code = upload.main([str(folder), *(["--wait", "--timeout", "600"] if last else []), *common])
        assert code == 0
    final = sorted((tmp_path / "v3").iterdir())
    expected = daily_totals(final)

    s3 = chaos_stack.client("s3")
    want = sorted(stats_lines(expected))
    assert chaos_stack.traffic_stats(lambda rows: rows == want) == want
    assert s3.list_objects_v2(Bucket=chaos_stack.bucket, Prefix=layout.SHARDS_PREFIX)["KeyCount"]  # folded tables
    for (src, dst), days in sorted(expected.items()):
        target = tmp_path / f"{src}_{dst}.csv"
        assert export.main([src, dst, "-o", str(target), "--outputs", str(chaos_stack.outputs_file)]) == 0
        rows = list(csv.DictReader(target.open()))
        assert [(r["Date"], int(r["TotalFlowDuration"]), int(r["TotalFwdPkts"])) for r in rows] == [
            (d, days[d][0], days[d][1]) for d in sorted(days)
        ]

    athena_view: dict[tuple[str, str, str], tuple[int, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=chaos_stack.bucket, Prefix=layout.SUMMARIES_PREFIX):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=chaos_stack.bucket, Key=item["Key"])["Body"].read().decode()
            for row in list(csv.reader(io.StringIO(body)))[1:]:
                key = (row[0], row[1], row[2])
                assert key not in athena_view, f"{key} is in two summaries: an orphan"
                athena_view[key] = (int(row[3]), int(row[4]))
    assert athena_view == {(d, s, t): (v[0], v[1]) for (s, t), days in expected.items() for d, v in days.items()}

    log = chaos_stack.log.read_text()
    assert "task timed out" in log  # the held publication was killed at the timeout, then redelivered
