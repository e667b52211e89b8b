from __future__ import annotations

import gzip
import io
import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.flows import (
    BAD_IP,
    BAD_NUMBER,
    BAD_TIME,
    MISSING_FIELD,
    NEGATIVE_NUMBER,
    RejectedFile,
    _canonical_ipv6,
    _normalize_ip,
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
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (100, 3, 1)}


PORT_HEADER = "src_ip,dst_ip,timestamp,flow_duration,flow_pkts_s,tot_fwd_pkts,tot_bwd_pkts\n"


def test_python_port_durations_in_seconds_are_recognised_by_the_packet_rate() -> None:
    # cicflowmeter >= 0.3: 4 packets in 0.5 s is 8 packets/s, so duration x rate / packets = 1.
    summary = run(
        PORT_HEADER + "10.0.0.1,10.0.0.2,2022-12-01 10:00:00,0.5,8.0,3,1\n" * 20
        + "10.0.0.1,10.0.0.2,2022-12-01 11:00:00,2.0000005,1.0,1,1\n"
    )
    assert summary.unit.unit == "s" and "21 seconds (= 1)" in summary.unit.evidence
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (12_000_000, 61, 21)}


def test_python_port_durations_in_microseconds_under_the_same_header() -> None:
    # cicflowmeter 0.1/0.2: the same header, microseconds written as floats (rounded half-even).
    summary = run(PORT_HEADER + "10.0.0.1,10.0.0.2,2022-12-01 10:00:00,500000.5,8.0,3,1\n")
    assert summary.unit.unit == "us"
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (500_000, 3, 1)}


@pytest.mark.parametrize(
    ("rows", "evidence"),
    [
        ("10.0.0.1,10.0.0.2,2022-12-01 10:00:00,0,0,1,0\n", "no row with a positive rate"),
        (
            "10.0.0.1,10.0.0.2,2022-12-01 10:00:00,0.5,8.0,3,1\n" * 5
            + "10.0.0.1,10.0.0.2,2022-12-01 10:00:00,500000,8.0,3,1\n" * 5,
            "inconclusive (5 of 10 disagree",
        ),
    ],
)
def test_missing_or_contradictory_evidence_falls_back_to_microseconds(rows: str, evidence: str) -> None:
    summary = run(PORT_HEADER + rows)
    assert summary.unit.unit == "us" and evidence in summary.unit.evidence


def test_float_noise_is_rounded_and_near_integral_counts_are_kept() -> None:
    summary = run(HEADER + row(dur="33400319.000000004", pkts="3.0000000001") + row(dur="66548610.99999999", pkts="1"))
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (33400319 + 66548611, 4, 2)}


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
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (250, 10, 3)}
    assert summary.rows_read == 3 and not summary.skipped


def test_ipv6_is_normalized_and_big_durations_are_exact() -> None:
    big = 2**40 + 7
    summary = run(
        HEADER
        + row(src="FD00::0001", dst="2001:DB8::1", dur=str(big))
        + row(src="fd00::1", dst="2001:db8::1", dur="3713.0")
    )
    assert summary.totals == {("2022-12-01", "fd00::1", "2001:db8::1"): (big + 3713, 6, 2)}


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
        (row(pkts="12.5"), BAD_NUMBER),
        (row(pkts="3.00001"), BAD_NUMBER),
        (row(dur="1e999999999"), BAD_NUMBER),
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
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (200, 6, 2)}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\n\r\n", "empty file"),
        (b"Src IP,Dst IP,Timestamp,Tot Fwd Pkts\n", "Flow Duration"),
        (b"Src IP;Dst IP;Timestamp;Flow Duration;Tot Fwd Pkts\n", "not comma-separated"),
        (b"\x00\x01\x02garbage\xff\xfe", "binary data"),
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
    assert summary.totals == {("2022-12-01", "10.0.0.1", "10.0.0.2"): (200, 6, 2)}


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


LINE_PIECES = st.sampled_from(
    [
        row(),
        row(src="fd00::1"),
        'f,"10.0.0.1",1,"10.0.0.2",2,6,"01/12/2022 10:00:00 AM",5,1,0\n',
        'f,"10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,5,1,0\n',
        'f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,5,1,"a\n',
        'f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,5,1,b"\n',
        'x"y,z\n',
        '"\n',
        "\n",
        "\r\n",
        ",,,,,,,,,\n",
        "f,10.0.0.1\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE_PIECES, max_size=40))
def test_every_row_is_accounted_for_whatever_the_quotes(lines: list[str]) -> None:
    summary = run(HEADER + "".join(lines))
    assert summary.rows_read == summary.rows_kept + sum(summary.skipped.values())
    assert summary.rows_kept == sum(counts.flows for counts in summary.totals.values())
    assert summary.rows_read <= sum(1 for line in lines if line.strip())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda head, tail: head + tail,
            st.sampled_from([HEADER.encode(), b"\x1f\x8b", b"\xef\xbb\xbf"]),
            st.binary(max_size=3000),
        ),
        st.builds(
            lambda rows: (HEADER + "".join(rows)).encode("utf-8", "surrogatepass"),
            st.lists(st.text(max_size=80), max_size=20),
        ),
    )
)
def test_no_bytes_make_the_reader_raise_anything_but_a_rejection(data: bytes) -> None:
    try:
        summary = run(data)
    except RejectedFile as exc:
        assert str(exc)
    else:
        assert summary.rows_read == summary.rows_kept + sum(summary.skipped.values())


def _by_ipaddress(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.lists(st.integers(0, 300).map(str), min_size=3, max_size=5).map(".".join),
        st.lists(st.text("0123456789 x", max_size=4), min_size=4, max_size=4).map(".".join),
        st.text("0123456789.:abcdef ", max_size=20),
    )
)
def test_the_ipv4_fast_path_agrees_with_ipaddress(text: str) -> None:
    expected = _by_ipaddress(text)
    assert _normalize_ip(text.encode()) == expected


IPV6_GROUPS = st.lists(st.one_of(st.just(0), st.just(0), st.integers(0, 0xFFFF)), min_size=8, max_size=8).map(
    lambda groups: ":".join(f"{g:x}" for g in groups)
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        IPV6_GROUPS,
        IPV6_GROUPS.map(lambda text: str(ipaddress.IPv6Address(text))),
        IPV6_GROUPS.map(lambda text: str(ipaddress.IPv6Address(text)).upper()),
        st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=45),
    )
)
@example("::0:0")
@example("1:0::")
@example("0::1")
def test_the_canonical_ipv6_fast_path_agrees_with_ipaddress(text: str) -> None:
    expected = _by_ipaddress(text)
    assert _normalize_ip(text.encode()) == expected
    if _canonical_ipv6(text.encode()):
        assert expected == text
