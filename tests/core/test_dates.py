"""Hostile dates (issue 23 item 6): rows outside the window are skipped, too many dates reject the file."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest

from core.flows import IMPLAUSIBLE_DATE, DateLimits, FileSummary, RejectedFile, summarize_stream
from core.ranges import summarize_path

HEADER = "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"


def row(day: str, src: str = "10.0.0.1") -> str:
    return f"{src},10.0.0.2,{day} 10:00:00,100,3\n"


def run(text: str, limits: DateLimits | None = None) -> FileSummary:
    return summarize_stream(io.BytesIO(text.encode()), limits=limits)


def days(count: int, start: datetime.date = datetime.date(2022, 1, 1)) -> list[str]:
    return [(start + datetime.timedelta(days=n)).isoformat() for n in range(count)]


def test_the_defaults_take_every_real_capture_including_the_1970_clock_bug() -> None:
    limits = DateLimits()
    assert (limits.earliest, limits.latest, limits.max_dates) == ("1970-01-01", "2099-12-31", 366)
    summary = run(HEADER + row("1970-01-01") + row("19/01/1970") + row("2099-12-31"))
    assert not summary.skipped and len(summary.table.days) == 3


def test_rows_outside_the_window_are_skipped_and_counted() -> None:
    text = HEADER + row("0001-01-01") + row("1969-12-31") + row("2022-12-01") + row("2100-01-01") + row("31/12/9999")
    summary = run(text)
    assert summary.skipped == {IMPLAUSIBLE_DATE: 4} and summary.rows_read == 5 and summary.rows_kept == 1
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (100, 3, 1)}


def test_a_narrower_window_is_honoured_inclusively() -> None:
    limits = DateLimits("2022-12-01", "2022-12-02", 10)
    summary = run(HEADER + "".join(row(day) for day in days(4, datetime.date(2022, 11, 30))), limits)
    assert summary.table.dates() == ["2022-12-01", "2022-12-02"] and summary.skipped == {IMPLAUSIBLE_DATE: 2}


def test_the_date_check_comes_after_the_row_checks() -> None:
    summary = run(HEADER + "10.0.0.1,10.0.0.2,1900-01-01 10:00:00,-1,3\n" + row("1900-01-01", src="10.0.0.999"))
    assert summary.skipped == {"negative_number": 1, IMPLAUSIBLE_DATE: 1}


def test_as_many_dates_as_the_maximum_are_accepted_one_more_rejects_the_file() -> None:
    limits = DateLimits(max_dates=30)
    assert len(run(HEADER + "".join(row(day) for day in days(30)), limits).table.days) == 30
    with pytest.raises(RejectedFile) as caught:
        run(HEADER + "".join(row(day) for day in days(31)), limits)
    assert str(caught.value) == (
        "too many dates: the rows hold 31 distinct days (2022-01-01 to 2022-01-31), more than the 30 a file may hold"
    )


def test_only_kept_days_count_towards_the_maximum() -> None:
    limits = DateLimits(max_dates=2)
    text = HEADER + row("2022-01-01") + row("2022-01-02") + row("1900-01-01") + row("2022-01-03", src="x")
    assert run(text, limits).table.dates() == ["2022-01-01", "2022-01-02"]


def test_the_10000_date_files_of_the_issue_make_at_most_the_maximum_of_days() -> None:
    yearly = run(HEADER + "".join(row(f"{year:04d}-06-15") for year in range(1, 10000)))
    assert len(yearly.table.days) == 130 and yearly.skipped == {IMPLAUSIBLE_DATE: 9999 - 130}
    spread = HEADER + "".join(row(day) for day in days(10_000, datetime.date(1990, 1, 1)))
    with pytest.raises(RejectedFile, match=r"10,000 distinct days \(1990-01-01 to 2017-05-18\)"):
        run(spread)


def test_the_ranged_path_rejects_on_the_merged_dates(tmp_path: Path) -> None:
    # Each range holds fewer dates than the maximum; the file as a whole holds more.
    path = tmp_path / "spread.csv"
    path.write_text(HEADER + "".join(row(day) for day in days(40) for _ in range(50)))
    limits = DateLimits(max_dates=25)
    with pytest.raises(RejectedFile, match="40 distinct days"):
        summarize_path(str(path), 4, min_bytes_per_job=0, limits=limits)
    assert len(summarize_path(str(path), 4, min_bytes_per_job=0, limits=DateLimits(max_dates=40)).table.days) == 40


def test_the_ranged_path_skips_implausible_dates_like_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(HEADER + (row("1960-05-05") + row("2022-01-01")) * 500)
    limits = DateLimits(earliest="2000-01-01")
    with path.open("rb") as stream:
        expected = summarize_stream(stream, limits=limits)
    assert expected.skipped == {IMPLAUSIBLE_DATE: 500}
    assert summarize_path(str(path), 3, min_bytes_per_job=0, limits=limits) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"earliest": "1970-1-1"}, "earliest date must be a day written yyyy-mm-dd, not '1970-1-1'"),
        ({"latest": "20991231"}, "latest date must be a day written yyyy-mm-dd"),
        ({"latest": "2099-02-30"}, "latest date must be a day written yyyy-mm-dd"),
        ({"earliest": "2030-01-01", "latest": "2020-01-01"}, "earliest date 2030-01-01 is after the latest 2020-01-01"),
        ({"max_dates": 0}, "at least 1, not 0"),
    ],
)
def test_limits_that_make_no_sense_are_refused(kwargs: dict[str, str | int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DateLimits(**kwargs)  # type: ignore[arg-type]
