"""`python -m local up` as a user runs it, as real processes: it fails fast and cleanly, stops on any signal at
any point, and leaves nothing behind (no process, no outputs file); killed with SIGKILL, its function
processes still exit by themselves (their parent watchdog). Every process a test starts carries a mark in
its environment, which every descendant inherits, so what is left is found even when reparented."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "IOT_LOCAL_TEST_MARK"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc"),
]


@pytest.fixture
def mark() -> Iterator[str]:
    """A mark for the processes of one test; whatever still carries it at the end is killed and fails the test."""
    value = uuid.uuid4().hex
    yield value
    left = marked(value)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


def marked(value: str) -> set[int]:
    found = set()
    needle = f"{MARK}={value}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and not zombie(entry):
                found.add(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def zombie(proc: Path) -> bool:
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def gone(value: str, seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while marked(value) and time.monotonic() < deadline:
        time.sleep(0.2)
    return marked(value)


def environment(value: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, MARK: value}


def up(value: str, *arguments: str, folder: Path | None = None) -> subprocess.Popen[str]:
    """`python -m local up` in a session of its own, as a terminal's foreground job (Ctrl-C goes to the group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "local", "up", "--workers", "2", *arguments],
        cwd=folder or ROOT,
        env=environment(value),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def local(value: str, folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**environment(value), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "local", *arguments], cwd=folder, env=env, capture_output=True, text=True, timeout=180
    )


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the local stack did not start"
        time.sleep(0.1)


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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_local_up_leaves_no_process(tmp_path: Path, mark: str, signum: int) -> None:
    outputs = tmp_path / "outputs.json"
    process = up(mark, "--outputs", str(outputs))
    wait_for(outputs, process)
    time.sleep(2)  # the environments start with the first poll
    assert len(descendants(process.pid)) >= 2
    process.send_signal(signum)
    process.wait(timeout=60)
    assert gone(mark, 30) == set()
    if signum == signal.SIGTERM:
        assert not outputs.exists()


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detach"])
def test_a_port_in_use_fails_within_seconds_with_one_line(tmp_path: Path, mark: str, detach: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = local(mark, tmp_path, "up", "--port", str(port), *(["--detach"] if detach else []))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"cannot start the local stack: port {port} on 127.0.0.1 is in use" in result.stderr
    assert elapsed < 30
    assert gone(mark, 5) == set()
    assert not (tmp_path / "local-outputs.json").exists()
    if detach:
        assert "is in use" in (tmp_path / "local-outputs.log").read_text()


def test_a_failing_deploy_fails_with_one_line(tmp_path: Path, mark: str) -> None:
    result = local(mark, tmp_path, "up", "--config", "summarizeTimeout=not-a-number")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("cannot start the local stack: ")
    assert "summarizeTimeout" in result.stderr
    assert gone(mark, 5) == set()
    assert not (tmp_path / "local-outputs.json").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_stops_it_at_once(tmp_path: Path, mark: str, signum: int) -> None:
    outputs = tmp_path / "outputs.json"
    process = up(mark, "--outputs", str(outputs))
    time.sleep(1.5)  # importing moto and Pulumi, or deploying the program
    started = time.monotonic()
    os.killpg(process.pid, signum)
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 20
    assert process.returncode == 1
    assert err.strip() == f"interrupted ({signal.Signals(signum).name}): nothing is left running"
    assert gone(mark, 5) == set()
    assert not outputs.exists()


def test_ctrl_c_stops_a_running_stack_without_a_traceback(tmp_path: Path, mark: str) -> None:
    outputs = tmp_path / "outputs.json"
    process = up(mark, "--outputs", str(outputs))
    wait_for(outputs, process)
    time.sleep(2)  # the runners and their environments are up
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.splitlines()[-1] == "local stack stopped"
    assert gone(mark, 10) == set()
    assert not outputs.exists()


def test_detached_stacks_replace_a_stale_outputs_file_and_keep_their_own_logs(tmp_path: Path, mark: str) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "a.json").write_text(json.dumps({"pid": dead.pid}))
    first = local(mark, tmp_path, "up", "--detach", "--outputs", "a.json")
    assert first.returncode == 0, first.stderr
    assert f"removed the stale a.json (process {dead.pid} is gone)" in first.stderr
    second = local(mark, tmp_path, "up", "--detach", "--outputs", "b.json")
    assert second.returncode == 0, second.stderr
    try:
        for name in ("a", "b"):
            outputs = json.loads((tmp_path / f"{name}.json").read_text())
            assert outputs["pid"] != dead.pid
            assert f"local stack up at {outputs['endpoint_url']}" in (tmp_path / f"{name}.log").read_text()
        refused = local(mark, tmp_path, "up", "--detach", "--outputs", "a.json")
        assert refused.returncode == 1
        assert refused.stderr.startswith("a.json belongs to a running local stack"), refused.stderr
        assert not (tmp_path / "local-stack.log").exists()
    finally:
        for name in ("a", "b"):
            down = local(mark, tmp_path, "down", "--outputs", f"{name}.json")
            assert down.returncode == 0, down.stderr
    assert gone(mark, 10) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "b.log"]
