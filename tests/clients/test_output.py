"""clients.common.run_cli and clients.output as a shell sees them: a closed pipe ends quietly (141),
Ctrl-C is one line and 130, and a file appears whole or not at all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clients.output import opened
from tests.conftest import ROOT

WRITER = """
import sys, time
from clients.common import run_cli
def work():
    if sys.argv[1] == "sleep":
        print("ready", file=sys.stderr, flush=True)
        time.sleep(30)
    for n in range(200000):
        print("2024-01-01,10.0.0.1,10.0.0.2,", n)
    return 0
raise SystemExit(run_cli(work))
"""


def test_a_closed_pipe_ends_quietly() -> None:
    done = subprocess.run(
        f"{sys.executable} -c '{WRITER}' write | head -1; echo status ${{PIPESTATUS[0]}} >&2",
        shell=True,
        executable="/bin/bash",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("2024-01-01")
    assert done.stderr.strip() == "status 141"


def test_ctrl_c_is_one_line_and_130() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, "sleep"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None and process.stderr.readline() == "ready\n"
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 130
    assert process.stderr.read() == "interrupted: nothing was left half done\n"


def test_a_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), opened(target) as out:
        out.write("partial")
        raise RuntimeError("failed half way")
    assert list(tmp_path.iterdir()) == []
    with opened(target) as out:
        out.write("whole\n")
    assert target.read_text() == "whole\n" and list(tmp_path.iterdir()) == [target]
