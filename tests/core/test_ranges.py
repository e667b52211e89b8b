"""Ranged-parallel summarize gives the single-process result: real files, quotes across range
boundaries, every split of generated files."""

from __future__ import annotations

import datetime
import functools
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.flows import FileSummary, RejectedFile, summarize_stream
from core.ranges import _LinesBefore, _Quoted, open_at, plan, run_plan, summarize_path, summarize_ranges
from local.samples import device_pairs, write_flows

REALDATA = Path(os.environ.get("REALDATA", Path(__file__).resolve().parents[3] / "shared" / "realdata"))
HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"


def single(path: Path) -> FileSummary | str:
    try:
        with path.open("rb") as stream:
            return summarize_stream(stream)
    except RejectedFile as exc:
        return f"rejected: {exc}"


def parallel(path: Path, jobs: int) -> FileSummary | str:
    try:
        return summarize_path(str(path), jobs, min_bytes_per_job=0)
    except RejectedFile as exc:
        return f"rejected: {exc}"


def flow_files() -> list[Path]:
    return sorted(p for p in REALDATA.glob("**/*") if p.is_file() and p.suffix in (".csv", ".gz"))


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not beside this checkout")
@pytest.mark.parametrize("jobs", [2, 5])
def test_every_real_file_gives_the_single_process_result(jobs: int) -> None:
    files = flow_files()
    assert len(files) >= 10
    merged = 0
    for path in files:
        expected = single(path)
        assert parallel(path, jobs) == expected, path.name
        if isinstance(expected, FileSummary):
            opener = functools.partial(open_at, str(path))
            ranges = plan(opener, path.stat().st_size, jobs)
            assert ranges is not None and len(ranges.ranges) > 1, path.name
            assert run_plan(opener, ranges) == expected, path.name
            merged += 1
    assert merged >= 10  # the ranges were read in parallel and merged, not read again by one process


def test_a_quoted_field_across_a_range_boundary(tmp_path: Path) -> None:
    body = io.BytesIO()
    write_flows(body, 400, device_pairs(1, 20), [datetime.date(2024, 1, 1)], seed=3)
    lines = body.getvalue().splitlines(keepends=True)
    middle = len(lines) // 2
    # A record whose quoted field holds line breaks, across the middle of the file (where a split falls).
    src, dst, *rest = lines[middle].split(b",")
    lines[middle] = b",".join([src, b'"' + dst + b'"', *rest])
    lines.insert(middle - 1, b'note,"a\nquoted\nfield",x\n')
    path = tmp_path / "quoted.csv"
    path.write_bytes(b"".join(lines))
    for jobs in (2, 3, 4, 7):
        assert parallel(path, jobs) == single(path)
    # The ranges were planned; the quote made one process read the file.
    assert plan(functools.partial(open_at, str(path)), path.stat().st_size, 4) is not None


def test_gzip_and_bare_cr_files_are_read_by_one_process(tmp_path: Path) -> None:
    cr = tmp_path / "cr.csv"
    cr.write_bytes(HEADER.replace(b"\n", b"\r") + b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\r" * 50)
    assert plan(functools.partial(open_at, str(cr)), cr.stat().st_size, 3) is None
    assert parallel(cr, 3) == single(cr)


lines = st.lists(
    st.sampled_from(
        [
            b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n",
            b"10.0.0.2,1.1.1.1,02/12/2022 11:00:00 PM,7,7\r\n",
            b"10.0.0.3,fe80::1,02/12/2022 11:00:00,2.5,1\n",
            b"\n",
            b"   \n",
            b"10.0.0.1,not-an-ip,01/12/2022 10:00:00 AM,100,3\n",
            b"10.0.0.1,8.8.8.8,99/99/2022 10:00:00,1,1\n",
            b"short,row\n",
            b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,-4,3\n",
        ]
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines, st.integers(2, 9), st.booleans())
def test_any_split_gives_the_single_process_result(
    tmp_path: Path, rows: list[bytes], jobs: int, trailing_newline: bool
) -> None:
    body = HEADER + b"".join(rows)
    path = tmp_path / "file.csv"
    path.write_bytes(body if trailing_newline else body.rstrip(b"\n"))
    assert parallel(path, jobs) == single(path)


def _open_in(parent: int, path: str, offset: int) -> io.BufferedReader:
    if os.getpid() != parent:
        raise OSError("injected: a worker cannot read its range")
    return open_at(path, offset)


def test_a_failed_worker_makes_one_process_read_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    lines = (f"10.0.{n % 7}.{n % 200},10.1.0.1,01/12/2022 10:00:00 AM,{n},1\n" for n in range(3000))
    path.write_bytes(HEADER + "".join(lines).encode())
    expected = summarize_stream(io.BytesIO(path.read_bytes()))
    opener = functools.partial(_open_in, os.getpid(), str(path))
    ranges = plan(opener, path.stat().st_size, 3)
    assert ranges is not None and len(ranges.ranges) == 3
    assert run_plan(opener, ranges) is None
    assert summarize_ranges(opener, path.stat().st_size, 3, min_bytes_per_job=0) == expected


class _Trickle:
    """A source whose reads return at most a few bytes at a time, like a network body."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._at = data, sizes or [1], 0

    def read(self, size: int = -1) -> bytes:
        step = min(size, self._sizes[self._at % len(self._sizes)] or 1)
        chunk = self._data[self._at : self._at + step]
        self._at += len(chunk)
        return chunk


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b'"', b"") + b"\n"), max_size=12),
    st.integers(-2, 120),
    st.lists(st.integers(1, 9), max_size=5),
)
def test_a_range_holds_exactly_the_lines_that_start_in_it(lines: list[bytes], limit: int, sizes: list[int]) -> None:
    data = b"".join(lines)
    expected, start = [], 0
    for line in lines:
        if start < limit:
            expected.append(line)
        start += len(line)
    reader = io.BufferedReader(_LinesBefore(_Trickle(data, sizes), limit), 7)  # type: ignore[arg-type]
    assert list(reader) == expected


def test_a_range_with_a_quote_is_given_up() -> None:
    reader = io.BufferedReader(_LinesBefore(io.BufferedReader(io.BytesIO(b'a\nb"\nc\n')), 100))
    with pytest.raises(_Quoted):
        list(reader)
