"""FileSummary.digest: the sha256 of the content after decompression, on every path that reads a file."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.flows import summarize_stream
from core.ranges import summarize_path
from local.samples import device_pairs, write_flows

HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
ROW = b"10.0.0.1,10.0.0.2,01/12/2022 10:00:00 AM,100,3\n"


def digest_of(data: bytes) -> str:
    return summarize_stream(io.BytesIO(data)).digest


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([ROW, b"\n", b"x,y\n", b'"a\n', b"\xef\xbb\xbf", b"\r\n"]), max_size=300))
def test_a_plain_and_a_gzip_copy_have_the_digest_of_the_plain_bytes(rows: list[bytes]) -> None:
    plain = HEADER + b"".join(rows)
    expected = hashlib.sha256(plain).hexdigest()
    assert digest_of(plain) == expected
    assert digest_of(gzip.compress(plain)) == expected
    assert digest_of(gzip.compress(plain, compresslevel=1, mtime=12345)) == expected


def test_bare_cr_lines_are_hashed_as_they_are_written() -> None:
    data = (HEADER + ROW * 3).replace(b"\n", b"\r")
    summary = summarize_stream(io.BytesIO(data))
    assert summary.rows_kept == 3 and summary.digest == hashlib.sha256(data).hexdigest()


def test_different_content_has_a_different_digest() -> None:
    assert digest_of(HEADER + ROW) != digest_of(HEADER + ROW + b"\n")


def test_a_large_file_read_in_ranges_has_the_digest_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    with path.open("wb") as out:
        write_flows(out, 20_000, device_pairs(2, 10), [datetime.date(2024, 1, 1)], seed=5)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    for jobs in (1, 2, 4):
        assert summarize_path(str(path), jobs, min_bytes_per_job=0).digest == expected
    gz = tmp_path / "large.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert summarize_path(str(gz), 4, min_bytes_per_job=0).digest == expected
