"""The consolidation benchmark runs end to end (at a toy scale: its numbers are `nox -s bench`'s job)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import bench_consolidation

pytestmark = pytest.mark.e2e  # a moto server and a fresh process per measured invocation: not a unit test


def test_the_consolidation_benchmark_measures_every_axis(tmp_path: Path) -> None:
    lines = bench_consolidation.run(
        tmp_path,
        populations=(300, 600),
        files=2,
        runs=1,
        rotation=(4, 6),
        burst=(300, 600),
        tick_every=2,
        sizes=(100, 200),
        history_days=3,
        batches=(1, 2),
        batch_population=300,
    )
    text = "\n".join(lines)
    assert "| 300 pairs in the state | 600 pairs in the state |" in text
    assert "| … a rebuild (fold every shard, write traffic_stats.csv), per rebuild |" in text
    assert "files 5–6" in text and "one capture of 600 new pairs" in text
    assert "| 100 pairs | 200 pairs | ratio |" in text
    assert "| 1 file per invocation | 2 files per invocation |" in text
    put_row = next(line for line in lines if line.startswith("| S3 PUT-class requests"))
    assert "(0." in put_row, put_row  # two files to an invocation share its pending objects
    assert "nan" not in text
