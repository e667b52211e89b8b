"""`python -m local up` leaves nothing behind: killed with SIGTERM, no process and no outputs file;
killed with SIGKILL, its function processes still exit by themselves (their parent watchdog)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {
        pid
        for pid in pids
        if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    }


def start(outputs: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "up", "--outputs", str(outputs), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not outputs.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the local stack did not start"
        time.sleep(0.2)
    return process


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_local_up_leaves_no_process(tmp_path: Path, signum: int) -> None:
    outputs = tmp_path / "outputs.json"
    process = start(outputs)
    time.sleep(2)  # the environments start with the first poll
    children = descendants(process.pid)
    assert len(children) >= 2
    process.send_signal(signum)
    process.wait(timeout=60)
    assert wait_gone(children, 30) == set()
    if signum == signal.SIGTERM:
        assert not outputs.exists()
