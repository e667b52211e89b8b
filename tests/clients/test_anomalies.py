"""clients.anomalies on a state built by the handlers from files with planted spikes: exactly the
(pair, day)s an independent leave-one-out computation flags, with its z values, for several --sigma and
--min-days; --new, --top, --html, and its errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from clients import anomalies
from tests.clients.conftest import STACK, Planted, leave_one_out


def independent(planted: Planted, date: str, sigma: float, min_days: int) -> list[tuple[str, str]]:
    verdicts = [
        verdict
        for pair, days in planted.expected.items()
        if date in days and (verdict := leave_one_out(pair, days, date, sigma)) is not None
    ]
    flagged = [v for v in verdicts if v.unusual and v.baseline_days >= min_days]
    return [v.pair for v in sorted(flagged, key=lambda v: (-max(abs(v.zs[0]), abs(v.zs[1])), *v.pair))]


def read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("sigma", "min_days"), [(3, 7), (2, 2), (2.5, 5), (4, 8), (1.5, 12)])
def test_flags_exactly_what_an_independent_leave_one_out_flags(
    planted: Planted, tmp_path: Path, sigma: float, min_days: int
) -> None:
    flagged_somewhere = 0
    for date in planted.dates[-1::-3]:
        target = tmp_path / f"{date}.csv"
        assert (
            anomalies.main(
                ["--date", date, "--sigma", str(sigma), "--min-days", str(min_days), "-o", str(target), *STACK]
            )
            == 0
        )
        rows = read(target)
        assert [(r["SrcIP"], r["DstIP"]) for r in rows] == independent(planted, date, sigma, min_days), date
        for row in rows:
            pair = (row["SrcIP"], row["DstIP"])
            days = planted.expected[pair]
            verdict = leave_one_out(pair, days, date, sigma)
            assert verdict is not None and row["Date"] == date
            assert [int(row["TotalFlowDuration"]), int(row["TotalFwdPkts"])] == days[date]
            assert int(row["BaselineDays"]) == verdict.baseline_days == len(days) - 1
            assert (float(row["MeanFlowDuration"]), float(row["MeanFwdPkts"])) == verdict.means
            assert (float(row["StdFlowDuration"]), float(row["StdFwdPkts"])) == verdict.stds
            for got, want in zip((float(row["ZFlowDuration"]), float(row["ZFwdPkts"])), verdict.zs, strict=True):
                assert got == want or math.isclose(got, want, rel_tol=1e-12), (got, want)
        flagged_somewhere += len(rows)
    assert flagged_somewhere > 0


def test_the_planted_spikes_are_found_with_the_defaults(planted: Planted, tmp_path: Path) -> None:
    found = set()
    for date in planted.dates:
        target = tmp_path / "day.csv"
        assert anomalies.main(["--date", date, "-o", str(target), *STACK]) == 0
        found |= {((r["SrcIP"], r["DstIP"]), date) for r in read(target)}
    late = {(pair, date) for pair, date in planted.spikes if date >= planted.dates[7]}
    assert late and late <= found


def test_the_latest_day_by_default_with_inf_for_a_flat_baseline_and_the_new_pair(
    planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    assert anomalies.main([*STACK]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(out.splitlines()))
    assert {r["Date"] for r in rows} == {planted.dates[-1]}
    flat = next(r for r in rows if r["SrcIP"] == "10.3.0.2")
    assert flat["ZFlowDuration"] == "inf" and flat["ZFwdPkts"] == "0.0" and rows[0] == flat
    assert "10.3.0.1" not in out  # flat, and the same total that day: z 0
    assert f"{planted.dates[-1]}: {len(rows)} of " in err

    assert anomalies.main(["--new", "-o", "-", *STACK]) == 0
    new = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(r["SrcIP"], r["DstIP"], r["Days"]) for r in new] == [("10.4.0.1", "9.9.9.9", "1")]
    assert anomalies.main(["--new", "--date", planted.dates[0], *STACK]) == 0
    first = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    expected = {pair for pair, days in planted.expected.items() if min(days) == planted.dates[0]}
    assert {(r["SrcIP"], r["DstIP"]) for r in first} == expected


def test_top_keeps_the_first_rows(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    date = planted.dates[-1]
    assert anomalies.main(["--date", date, "--sigma", "1.5", "--min-days", "2", *STACK]) == 0
    every = capsys.readouterr().out.splitlines()
    assert anomalies.main(["--date", date, "--sigma", "1.5", "--min-days", "2", "--top", "2", *STACK]) == 0
    assert capsys.readouterr().out.splitlines() == every[:3] and len(every) > 3


def test_the_html_page_is_self_contained_with_a_plot_per_top_pair(planted: Planted, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    page = tmp_path / "day.html"
    date = planted.dates[-1]
    assert (
        anomalies.main(
            [
                "--date",
                date,
                "--sigma",
                "2",
                "--min-days",
                "5",
                "--html",
                str(page),
                "-o",
                str(tmp_path / "x.csv"),
                *STACK,
            ]
        )
        == 0
    )
    text = page.read_text()
    rows = read(tmp_path / "x.csv")
    assert 0 < len(rows) <= anomalies.PLOTS
    assert text.count("<img ") == len(rows) == text.count("<tr>") - 1
    assert text.count('src="data:image/png;base64,') == len(rows)
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_errors_are_one_line_and_write_nothing(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert anomalies.main(["--date", "2023-01-01", *STACK]) == 4
    assert f"no data on 2023-01-01 (the latest day with data is {planted.dates[-1]})" in capsys.readouterr().err
    assert anomalies.main(["-o", str(tmp_path / "missing" / "x.csv"), *STACK]) == 2
    assert "folder" in capsys.readouterr().err and not (tmp_path / "missing").exists()
    assert anomalies.main(["--html", str(tmp_path / "missing" / "x.html"), "-o", str(tmp_path / "y.csv"), *STACK]) == 2
    assert list(tmp_path.iterdir()) == []
    for bad in (["--sigma", "0"], ["--sigma", "x"], ["--min-days", "1"], ["--date", "2024-02-30"], ["--top", "0"]):
        with pytest.raises(SystemExit) as exit_:
            anomalies.main([*bad, *STACK])
        assert exit_.value.code == 2


def test_help_lists_only_its_own_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        anomalies.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "4 no data on that day" in text and "130 interrupted" in text
    assert "3 invalid IP" not in text and "rejected" not in text
