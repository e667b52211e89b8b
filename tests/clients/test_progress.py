from __future__ import annotations

import io

import pytest

from clients.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(2, 100, stream=out)
    progress.add_bytes(60)
    progress.file_done("raw/a/1.csv")
    progress.close()
    assert out.getvalue() == "uploaded raw/a/1.csv (1/2)\n"


def test_live_bar_with_rate_and_eta_on_a_terminal() -> None:
    out = Terminal()
    progress = Progress(2, 2048, stream=out)
    progress.add_bytes(1024)
    progress.file_done("raw/a/1.csv")
    progress.close()
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("[###############---------------] 1/2 files 1.0 KB/2.0 KB")
    assert "/s ETA" in last and last.endswith("\n")


def test_quiet_prints_nothing() -> None:
    out = Terminal()
    progress = Progress(1, 10, quiet=True, stream=out)
    progress.add_bytes(10)
    progress.file_done("raw/a/1.csv")
    progress.say("done")
    progress.close()
    assert out.getvalue() == ""


def test_the_bar_fits_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    out = Terminal()
    progress = Progress(3, 10_000_000, stream=out)
    for _ in range(5):
        progress.add_bytes(1_000_000)
    progress.close()
    redraws = out.getvalue().rstrip("\n").split("\r")[1:]
    assert redraws and all(len(line) <= 59 for line in redraws)
