from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.flows import (
    BAD_IP,
    BAD_NUMBER,
    BAD_TIME,
    MISSING_FIELD,
    NEGATIVE_NUMBER,
    RejectedFile,
    summarize_stream,
)
from core.timestamps import valid_time, valid_time_bytes

HEADER = "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts\n"


def run(text: str | bytes):  # type: ignore[no-untyped-def]
    data = text.encode() if isinstance(text, str) else text
    return summarize_stream(io.BytesIO(data))


def row(
    src: str = "10.0.0.1", dst: str = "10.0.0.2", ts: str = "01/12/2022 10:00:00 AM", dur: str = "100", pkts: str = "3"
) -> str:
    return f"f,{src},1,{dst},2,6,{ts},{dur},{pkts},0\n"


@pytest.mark.parametrize(
    "header",
    [
        "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts",
        " Source IP, Destination IP, Timestamp, Flow Duration, Total Fwd Packets",
        "Source IP,Destination IP,TimeStamp,Flow Duration,Total Fwd Packet",
        "SRC IP , dst ip,TIMESTAMP,flow duration,TOT FWD PKTS",
    ],
)
def test_every_header_spelling(header: str) -> None:
    summary = run(f"{header}\n10.0.0.1,10.0.0.2,2022-12-01 10:00:00,100,3\n")
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): [100, 3, 1]}


def test_python_port_snake_case_durations_are_seconds() -> None:
    summary = run(
        "src_ip,dst_ip,timestamp,flow_duration,tot_fwd_pkts\n"
        "10.0.0.1,10.0.0.2,2022-12-01 10:00:00,0.003713,3\n"
        "10.0.0.1,10.0.0.2,2022-12-01 11:00:00,2.5,1\n"
    )
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): [2_503_713, 4, 2]}


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("01/12/2022 10:30:15 AM", "2022-12-01"),
        ("01/12/2022 11:59:59 PM", "2022-12-01"),
        ("01/12/2022 12:00:01 AM", "2022-12-01"),
        ("2022-12-01 23:59:59", "2022-12-01"),
        ("01/12/2022 10:30:15", "2022-12-01"),
        ("1/2/2022 7:05", "2022-02-01"),
        ("2022-12-01 10:30:15.123456", "2022-12-01"),
    ],
)
def test_timestamp_dialects_give_the_day_as_written(stamp: str, day: str) -> None:
    assert set(run(HEADER + row(ts=stamp)).totals) == {(day, "10.0.0.1", "10.0.0.2")}


def test_bom_crlf_blank_lines_and_quoted_fields() -> None:
    text = (
        (
            "\ufeff" + HEADER + "\n" + row() + "\r\n" + 'f,"10.0.0.1",1,"10.0.0.2",2,6,"01/12/2022 10:00:00 AM",'
            '"50",4,"a, quoted\r\nmultiline field"\r\n' + row()
        )
        .replace("\n", "\r\n")
        .replace("\r\r", "\r")
    )
    summary = run(text)
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): [250, 10, 3]}
    assert summary.rows_read == 3 and not summary.skipped


def test_ipv6_is_normalized_and_big_durations_are_exact() -> None:
    big = 2**40 + 7
    summary = run(
        HEADER
        + row(src="FD00::0001", dst="2001:DB8::1", dur=str(big))
        + row(src="fd00::1", dst="2001:db8::1", dur="3713.0")
    )
    assert summary.totals == {("2022-12-01", "fd00::1", "2001:db8::1"): [big + 3713, 6, 2]}


def test_gzip_input_by_magic_bytes() -> None:
    assert run(gzip.compress((HEADER + row()).encode())).totals


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("f,10.0.0.1,1\n", MISSING_FIELD),
        (row(src=""), MISSING_FIELD),
        (row(src="999.1.1.1"), BAD_IP),
        (row(dst="host.example"), BAD_IP),
        (row(ts="31/02/2022 10:00:00 AM"), BAD_TIME),
        (row(ts="01/12/2022 13:00:00 PM"), BAD_TIME),
        (row(ts="yesterday"), BAD_TIME),
        (row(dur="abc"), BAD_NUMBER),
        (row(dur="12.5"), BAD_NUMBER),
        (row(pkts="1_000"), BAD_NUMBER),
        (row(dur="NaN"), BAD_NUMBER),
        (row(dur="-5"), NEGATIVE_NUMBER),
        (row(pkts="-1"), NEGATIVE_NUMBER),
    ],
)
def test_broken_rows_are_skipped_and_counted_by_reason(bad_row: str, reason: str) -> None:
    summary = run(HEADER + row() + bad_row + row())
    assert summary.skipped == {reason: 1}
    assert summary.rows_read == 3 and summary.rows_kept == 2
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): [200, 6, 2]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\n\r\n", "empty file"),
        (b"Src IP,Dst IP,Timestamp,Tot Fwd Pkts\n", "Flow Duration"),
        (b"Src IP;Dst IP;Timestamp;Flow Duration;Tot Fwd Pkts\n", "not comma-separated"),
        (b"\x00\x01\x02garbage\xff\xfe", "missing required column"),
        (gzip.compress((HEADER + row() * 50).encode())[:60], "gzip"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(RejectedFile, match=reason):
        run(data)


def test_header_only_file_has_no_rows() -> None:
    summary = run(HEADER)
    assert summary.rows_read == 0 and summary.totals == {}


@pytest.mark.parametrize("stamp", ["2022-12-01T10:00:00", " 01/12/2022 10:00:00 AM", "01/12/2022  10:00:00 AM"])
def test_unusual_spacing_and_iso_t_take_the_uncached_path_to_the_same_day(stamp: str) -> None:
    summary = run(HEADER + row(ts=stamp) + row(ts=stamp))
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): [200, 6, 2]}


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.1", "fd00::1", "999.0.0.1", "", "10.0.0.01"]),
            st.sampled_from(["01/12/2022 10:00:00 AM", "2022-12-02 23:00:00", "01/12/2022 13:00:00 PM", "", "x"]),
            st.sampled_from(["100", "3713.0", "-1", "1_0", "abc", "", "18446744073709551616"]),
            st.sampled_from(["3", "0", "-2", "2.0", "z"]),
        ),
        max_size=25,
    )
)
def test_quoted_lines_and_the_split_fast_path_agree(rows: list[tuple[str, str, str, str]]) -> None:
    plain = "".join(row(src=s, ts=t, dur=d, pkts=p) for s, t, d, p in rows)
    quoted = "".join(
        ",".join(f'"{v}"' for v in ("f", s, "1", "10.0.0.2", "2", "6", t, d, p, "0")) + "\n" for s, t, d, p in rows
    )
    fast, slow = run(HEADER + plain), run(HEADER + quoted)
    assert (fast.totals, fast.skipped, fast.rows_read) == (slow.totals, slow.skipped, slow.rows_read)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.builds(
            lambda h, m, s, mer: f"{h:02d}:{m:02d}:{s:02d}{mer}",
            st.integers(0, 99),
            st.integers(0, 99),
            st.integers(0, 99),
            st.sampled_from(["", " AM", " PM", " am", " pM", " XM", "  AM", "AM"]),
        ),
        st.text(alphabet="0123456789: APMapm.", max_size=14),
    )
)
def test_fast_time_check_agrees_with_the_reference(text: str) -> None:
    assert valid_time_bytes(text.encode()) == valid_time(text.strip())
