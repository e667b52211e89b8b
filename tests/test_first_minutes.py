"""The first minutes after versioning is enabled (issue 23): S3 may answer 404 for objects that exist.
On a stack of its own whose functions get a 404 for the first two reads of every raw object, status
record and summary, every uploaded file still ends consolidated, with exact statistics: a 404 for
what an event or a status announced is a retry, never an acknowledged message."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import upload
from local.naive import daily_totals, stats_lines
from local.samples import device_pairs, write_sample_file
from tests.conftest import RunningStack, start_stack

CONFIG = (
    "summarizeTimeout=5",
    "consolidateTimeout=10",
    "summarizeMaxConcurrency=8",
    "consolidateMaxConcurrency=8",
    "statsRebuildSeconds=10",
)


@pytest.fixture(scope="module")
def not_found_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from start_stack(tmp_path_factory.mktemp("not-found"), CONFIG, "--not-found-reads=2")


def test_every_file_is_consolidated_exactly_under_early_404s(not_found_stack: RunningStack, tmp_path: Path) -> None:
    folder = tmp_path / "branch"
    folder.mkdir()
    day = datetime.date(2024, 7, 1)
    for n in range(4):
        write_sample_file(folder / f"log{n}.csv", 150, device_pairs(700 + n, 3), [day, day + datetime.timedelta(1)])
    common = ["--wait", "--timeout", "600", "--quiet", "--outputs", str(not_found_stack.outputs_file)]
    assert upload.main([str(folder), *common]) == 0
    want = sorted(stats_lines(daily_totals(sorted(folder.iterdir()))))
    assert not_found_stack.traffic_stats(lambda rows: rows == want, timeout=300) == want
    log = not_found_stack.log.read_text()
    assert "retrying the record" in log or "not visible yet" in log  # the 404s were met, and retried
