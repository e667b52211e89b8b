"""clients.export on the planted state: the unusual days it names follow the leave-one-out rule of
clients.anomalies (checked independently, several --sigma and --min-days), too short a history is said,
--from/--to limit the rows, -o - is stdout, targets are checked before any work."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from clients import export
from tests.clients.conftest import STACK, Planted, leave_one_out

FULL = ("10.1.0.2", "13.1.0.9")


def named_days(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if "other days" in line or "too few" in line)
    return re.findall(r"(\d{4}-\d\d-\d\d) \(z", line)


@pytest.mark.parametrize(("sigma", "min_days"), [(3, 7), (2, 2), (4, 10), (1.5, 20)])
def test_the_days_named_are_those_the_independent_rule_flags(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str], sigma: float, min_days: int
) -> None:
    for pair in [FULL, ("2001:db8::1", "2001:db8::2"), ("10.2.0.5", "8.8.8.8"), ("10.3.0.2", "1.1.1.1")]:
        days = planted.expected[pair]
        args = [*pair, "--sigma", str(sigma), "--min-days", str(min_days), "-o", str(tmp_path / "e.csv"), *STACK]
        assert export.main(args) == 0
        out = capsys.readouterr().out
        expected = [
            date
            for date in sorted(days)
            if (verdict := leave_one_out(pair, days, date, sigma)) is not None
            and verdict.unusual
            and verdict.baseline_days >= min_days
        ]
        assert named_days(out) == expected, (pair, out)
        if len(days) - 1 < min_days:
            assert f"{len(days)} days: too few to judge, need {min_days + 1}" in out


def test_a_spike_is_named_with_the_defaults_and_a_short_pair_is_too_short(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pair, date = next((p, d) for p, d in planted.spikes if d >= planted.dates[7])
    assert export.main([*pair, "-o", str(tmp_path / "e.csv"), *STACK]) == 0
    assert date in named_days(capsys.readouterr().out)
    assert export.main(["10.2.0.1", "8.8.8.8", "-o", str(tmp_path / "e.csv"), *STACK]) == 0
    assert "3 days: too few to judge, need 8" in capsys.readouterr().out


def test_from_to_limit_the_rows_and_the_statistics_stay_the_pairs(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, part = tmp_path / "whole.csv", tmp_path / "part.csv"
    assert export.main([*FULL, "-o", str(whole), *STACK]) == 0
    assert export.main([*FULL, "--from", planted.dates[3], "--to", planted.dates[9], "-o", str(part), *STACK]) == 0
    assert "(7 of 24 days)" in capsys.readouterr().out
    lines = whole.read_text().splitlines()
    assert part.read_text().splitlines() == [lines[0], *lines[4:11]]
    assert export.main([*FULL, "--from", "2030-01-01", *STACK]) == 4
    assert export.main([*FULL, "--from", planted.dates[5], "--to", planted.dates[1], *STACK]) == 2


def test_dash_is_stdout_and_the_report_goes_to_stderr(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    assert export.main([*FULL, "-o", "-", *STACK]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["Date"] for r in rows] == sorted(planted.expected[FULL])
    assert "day(s) from" in err and not Path("-").exists()


def test_the_reverse_direction_is_named(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    assert export.main(["13.1.0.9", "10.1.0.2", *STACK]) == 4
    err = capsys.readouterr().err
    assert "the reverse direction 10.1.0.2 -> 13.1.0.9 has 24 day(s)" in err
    assert export.main(["13.1.0.9", "10.9.9.9", *STACK]) == 4
    assert "reverse" not in capsys.readouterr().err


def test_targets_are_checked_before_any_work_and_nothing_is_written(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert export.main([*FULL, "-o", "missing/x.csv", *STACK]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert export.main([*FULL, "--plot", "missing/x.png", *STACK]) == 2
    assert export.main([*FULL, "--plot", "x", *STACK]) == 2
    assert "must end in .png" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert export.main([*FULL, "-o", "e.csv", "--plot", "x.png", *STACK]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv", "x.png"]
    assert "wrote x.png" in capsys.readouterr().out


def test_help_lists_only_its_own_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        export.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "4 unknown pair" in text and "3 invalid IP address" in text and "130 interrupted" in text
    assert "rejected" not in text and "timed out" not in text
