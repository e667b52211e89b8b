from __future__ import annotations

import datetime
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.summarize import EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, EXIT_MEANINGS, EXIT_REJECTED, main
from local.samples import device_pairs, write_sample_file

ROOT = Path(__file__).resolve().parents[2]
FLOWS = "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.0.0.1,10.0.0.2,01/12/2022 10:00:00 AM,100,3\n"


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


def test_rejected_file_exits_1_with_its_reason_and_the_others_are_summarized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n1;2;3\n")
    good = tmp_path / "good.csv"
    good.write_text(FLOWS)
    assert main([str(bad), str(good)]) == EXIT_REJECTED == 1
    out, err = capsys.readouterr()
    assert "bad.csv: rejected: missing required column(s)" in err
    assert out.splitlines()[1:] == ["2022-12-01,10.0.0.1,10.0.0.2,100,3,1"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["GOOD", "missing.csv"], "missing.csv: no such file"),
        (["GOOD", "."], ".: is a folder"),
        (["--jobs", "0", "GOOD"], "--jobs must be at least 1"),
        (["--jobs", "many", "GOOD"], "invalid int value: 'many'"),
        ([], "the following arguments are required: FILE"),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_work(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(FLOWS)
    with pytest.raises(SystemExit) as caught:
        main([str(good) if arg == "GOOD" else arg for arg in argv])
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and err.count("\n") == 2  # the usage line and the error


def test_help_lists_only_the_exit_codes_it_returns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    codes = [int(code) for code in re.findall(r"[;:] (\d+) ", help_text.split("exit status")[1])]
    assert codes == [0, 1, 2, 130, 141] == list(EXIT_MEANINGS)


def shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    days = [datetime.date(2022, 12, 1)]
    # Far more output than a pipe holds (64 KB) and head reads: the writer meets the closed pipe.
    sample = write_sample_file(tmp_path / "many-pairs.csv", 20_000, device_pairs(40, 8000), days)
    done = shell(f"{sys.executable} -m core.summarize {sample.path} | head -1")
    assert done.stdout == "Date,SrcIP,DstIP,TotalFlowDuration,TotalFwdPkts,Flows\n"
    assert done.returncode == EXIT_CLOSED_PIPE, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert done.stderr.count("\n") == 1 and "20000 rows read" in done.stderr  # only the file's report


def test_ctrl_c_prints_one_line_and_exits_130() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "core.summarize", "-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    # More than a pipe holds: once written, the reader is inside its work, waiting for the rest.
    process.stdin.write((FLOWS * 8000).encode())
    process.stdin.flush()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED == 130
    assert err.decode() == "interrupted\n" and out == b""


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
