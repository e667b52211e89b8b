from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

import pytest

from core.summarize import main
from local.samples import device_pairs, write_sample_file


def test_summarizes_files_to_stdout_and_reports_each_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = [datetime.date(2022, 12, 1), datetime.date(2022, 12, 2)]
    a = write_sample_file(tmp_path / "a.csv", 500, device_pairs(1, 3), days, broken=4)
    b = write_sample_file(tmp_path / "b.csv.gz", 300, device_pairs(1, 3), days, style="cic-ids2017")
    assert main([str(a.path), str(b.path)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "Date,SrcIP,DstIP,TotalFlowDuration,TotalFwdPkts,Flows"
    assert sum(int(line.split(",")[5]) for line in lines[1:]) == 800
    assert lines[1:] == sorted(lines[1:], key=lambda line: tuple(line.split(",")[:3]))
    assert f"{a.path}: 504 rows read, 500 kept, 4 skipped (" in err
    assert f"{b.path}: 300 rows read, 300 kept, 0 skipped" in err


def test_rejected_file_exits_2_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n1;2;3\n")
    assert main([str(bad), str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: rejected: missing required column(s)" in err
    assert "missing.csv: rejected: cannot read" in err


def test_the_summary_goes_to_a_text_only_stdout_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "flows.csv"
    path.write_text(
        "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.0.0.1,10.0.0.2,01/12/2022 10:00:00 AM,100,3\n"
    )
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main([str(path)]) == 0
    assert out.getvalue().splitlines() == [
        "Date,SrcIP,DstIP,TotalFlowDuration,TotalFwdPkts,Flows",
        "2022-12-01,10.0.0.1,10.0.0.2,100,3,1",
    ]
