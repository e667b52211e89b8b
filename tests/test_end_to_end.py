"""End to end: `python -m local up` in a subprocess, real uploads through the clients, real waiting."""

from __future__ import annotations

import csv
import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clients import export, upload
from local.naive import daily_totals, stats_lines
from local.samples import device_pairs, write_sample_file
from tests.conftest import RunningStack

START = datetime.date(2023, 3, 1)


def days(first: int, count: int) -> list[datetime.date]:
    return [START + datetime.timedelta(days=first + n) for n in range(count)]


def test_sixty_files_from_four_branches_uploaded_at_once_give_exact_statistics(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    folders = []
    for branch in range(4):
        folder = tmp_path / f"site{branch}"
        for n in range(15):
            name = f"log{n:02d}.csv.gz" if n % 5 == 0 else f"log{n:02d}.csv"
            write_sample_file(
                folder / name,
                300,
                device_pairs(90 + branch, 6) + device_pairs(1, 2),
                days(n % 7, 2),
                broken=2,
                seed=branch * 100 + n,
            )
        folders.append(folder)
    common = ["--outputs", str(local_stack.outputs_file), "--quiet"]
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda f: upload.main([str(f), "--wait", "--timeout", "400", *common]), folders))
    assert codes == [0, 0, 0, 0]
    expected = daily_totals([p for f in folders for p in sorted(f.iterdir())])
    want = set(stats_lines(expected))
    rows = local_stack.traffic_stats(lambda rows: want <= set(rows))
    assert want <= set(rows)
    assert {line for line in rows if line.startswith("10.9")} == {line for line in want if line.startswith("10.9")}

    src, dst = sorted(expected)[0]
    target = tmp_path / "export.csv"
    assert export.main([src, dst, "-o", str(target), "--outputs", str(local_stack.outputs_file)]) == 0
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["Date"] for r in rows] == sorted(expected[(src, dst)])
    assert [int(r["TotalFlowDuration"]) for r in rows] == [
        expected[(src, dst)][d][0] for d in sorted(expected[(src, dst)])
    ]


def test_rejected_file_makes_upload_wait_exit_1(
    local_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "broken-branch"
    folder.mkdir()
    (folder / "semicolons.csv").write_text("Src IP;Dst IP;Timestamp;Flow Duration;Tot Fwd Pkts\n")
    assert upload.main([str(folder), "--wait", "--timeout", "120", "--outputs", str(local_stack.outputs_file)]) == 1
    assert "raw/broken-branch/semicolons.csv: rejected: missing required column(s)" in capsys.readouterr().out
