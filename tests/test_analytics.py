"""What analysts see: the Hive-partitioned summaries read by DuckDB, and the export's plot."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import duckdb
import pytest

from clients import export, upload
from local.naive import daily_totals
from local.samples import device_pairs, write_sample_file
from tests.conftest import RunningStack

FIRST = datetime.date(2023, 6, 1)


@pytest.fixture(scope="module")
def uploaded(local_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("analytics") / "lyon"
    files = []
    for n in range(3):
        days = [FIRST + datetime.timedelta(days=n * 2 + d) for d in range(3)]
        files.append(write_sample_file(folder / f"day{n}.csv", 2000, device_pairs(120, 4), days, seed=50 + n).path)
    assert upload.main([str(folder), "--wait", "--quiet", "--outputs", str(local_stack.outputs_file)]) == 0
    return files


def test_summaries_are_a_hive_table_with_the_same_totals(
    local_stack: RunningStack, uploaded: list[Path], tmp_path: Path
) -> None:
    s3 = local_stack.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=local_stack.bucket, Prefix="summaries/")
    for item in (item for page in pages for item in page.get("Contents", [])):
        target = tmp_path / item["Key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(local_stack.bucket, item["Key"], str(target))
    rows = duckdb.sql(
        f"""SELECT dt::VARCHAR, SrcIP, DstIP, sum(TotalFlowDuration)::BIGINT, sum(TotalFwdPkts)::BIGINT
            FROM read_csv('{tmp_path}/summaries/*/*.csv', hive_partitioning = true, header = true)
            WHERE SrcIP LIKE '10.120.%' GROUP BY ALL"""
    ).fetchall()
    expected = daily_totals(uploaded)
    assert {(d, s, t): (a, b) for d, s, t, a, b in rows} == {
        (day, src, dst): (v[0], v[1]) for (src, dst), days in expected.items() for day, v in days.items()
    }


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="the plot extra is not installed")
def test_export_plot_is_a_real_png(local_stack: RunningStack, uploaded: list[Path], tmp_path: Path) -> None:
    src, dst = device_pairs(120, 4)[0]
    png = tmp_path / "pair.png"
    code = export.main(
        [src, dst, "-o", str(tmp_path / "pair.csv"), "--plot", str(png), "--outputs", str(local_stack.outputs_file)]
    )
    assert code == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_without_matplotlib_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert export.main(["10.0.0.1", "10.0.0.2", "--plot", "x.png", "--bucket", "b"]) == 2
    assert "pip install -e '.[plot]'" in capsys.readouterr().err
