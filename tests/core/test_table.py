from __future__ import annotations

import io
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from core.counts import Counts, Key, Totals, add_into
from core.flows import _normalize_ip, summarize_stream
from core.summary import read_summary, write_summary, write_table
from core.table import DailyTotals
from core.timestamps import parse_day

HEADER = "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts\n"
IPS = [
    "10.0.0.1",
    "10.0.0.12",
    "10.0.0.1 ",
    " 10.0.0.1",
    "255.255.255.255",
    "256.0.0.1",
    "10.0.0.01",
    "fd00::1",
    "FD00::1",
    "fd00:0:0:0:0:0:0:1",
    "fd00::0:1",
    "2001:db8::",
    "::ffff:10.0.0.1",
    "fe80::1%eth0",
    "fe80::1%a!",
    "fe80::1%a",
    "::",
    "",
    "x",
]
STAMPS = [
    "01/12/2022 10:00:00 AM",
    "1/12/2022 10:00",
    "2022-12-01 23:59:59",
    "2022-12-01T08:00:00",
    "02/12/2022 01:00:00 PM",
]
Row = tuple[str, str, str, int, int]
ROWS = st.lists(
    st.tuples(
        st.sampled_from(IPS),
        st.sampled_from(IPS),
        st.sampled_from(STAMPS),
        st.one_of(st.integers(0, 10**6), st.integers(2**62, 2**70)),
        st.integers(0, 300),
    ),
    max_size=40,
)


def reference(rows: list[Row]) -> tuple[Totals, int]:
    """Row by row with the reader's own field rules: kept totals and rows skipped for a bad IP."""
    totals: Totals = {}
    bad = 0
    for src, dst, stamp, duration, packets in rows:
        day, normal_src, normal_dst = parse_day(stamp), _normalize_ip(src.encode()), _normalize_ip(dst.encode())
        assert day is not None
        if normal_src is None or normal_dst is None:
            bad += 1
            continue
        add_into(totals, [(Key(day, normal_src, normal_dst), Counts(duration, packets, 1))])
    return totals, bad


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_the_compact_table_equals_a_row_by_row_reference(rows: list[Row]) -> None:
    text = HEADER + "".join(f"f,{s},1,{d},2,6,{t},{dur},{p}\n" for s, d, t, dur, p in rows)
    summary = summarize_stream(io.BytesIO(text.encode()))
    expected, bad = reference(rows)
    assert summary.totals == expected
    assert sum(summary.skipped.values()) == bad
    assert len(summary.table) == len(expected)
    assert summary.table.dates() == sorted({key.date for key in expected})


def totals_of(rows: list[Row]) -> Totals:
    return reference(rows)[0]


@settings(max_examples=200, deadline=None)
@given(ROWS)
def test_the_table_writer_writes_what_the_csv_writer_writes(rows: list[Row]) -> None:
    totals = totals_of(rows)
    table = DailyTotals.from_totals(sorted(totals.items(), reverse=True))
    expected = io.StringIO()
    write_summary(expected, totals)
    written = io.BytesIO()
    write_table(written, table)
    assert written.getvalue().decode() == expected.getvalue()
    assert read_summary(io.StringIO(expected.getvalue())) == totals
    for day in table.dates():
        one_day = io.BytesIO()
        write_table(one_day, table, [day])
        one_day_totals = {key: counts for key, counts in totals.items() if key.date == day}
        assert read_summary(io.StringIO(one_day.getvalue().decode())) == one_day_totals


@settings(max_examples=200, deadline=None)
@given(ROWS, ROWS)
def test_merging_tables_adds_their_totals(first: list[Row], second: list[Row]) -> None:
    merged = DailyTotals.from_totals(totals_of(first).items())
    merged.merge(DailyTotals.from_totals(totals_of(second).items()))
    expected = totals_of(first + second)
    assert merged.as_dict() == expected
    assert merged == DailyTotals.from_totals(reversed(list(expected.items())))
    assert merged.pair_count() == len({(key.src, key.dst) for key in expected})


def test_two_spellings_of_one_day_and_of_one_address_land_under_one_key() -> None:
    text = HEADER + (
        "f,10.0.0.1,1,fd00::1,2,6,01/12/2022 10:00:00 AM,5,1\n"
        "f,10.0.0.1,1,FD00:0:0::1,2,6,2022-12-01 11:00:00,7,2\n"
        "f,10.0.0.1,1,fd00::1,2,6,1/12/2022 12:00,11,3\n"
    )
    summary = summarize_stream(io.BytesIO(text.encode()))
    assert summary.totals == {Key("2022-12-01", "10.0.0.1", "fd00::1"): Counts(23, 6, 3)}
    assert summary.table.dates() == ["2022-12-01"] and len(summary.table) == 1


def test_a_distinct_key_costs_at_most_400_bytes_through_summary_and_csv() -> None:
    """Issue 15's memory bound, as a regression guard: Python allocations at their peak while a file
    of 30,000 distinct (day, pair) keys is summarized and its summary CSV written, per key."""
    rows = [
        f"f,10.{n % 7}.{n // 250 % 250}.{n % 250},1,"
        + (f"2001:db8::{n:x}" if n % 17 == 5 else f"52.{n % 9}.{n // 256 % 256}.{n % 256}")
        + f",443,6,0{1 + n % 2}/12/2022 10:{n % 60:02d}:00 AM,{n * 7919 % 10**8},{n % 300},0\n"
        for n in range(30_000)
    ]
    data = (HEADER.rstrip("\n") + ",Tot Bwd Pkts\n" + "".join(rows + rows)).encode()
    source = io.BytesIO(data)
    tracemalloc.start()
    try:
        summary = summarize_stream(source)
        write_table(io.BytesIO(), summary.table)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(summary.table) == 30_000 and summary.rows_kept == 60_000
    assert peak / len(summary.table) <= 400, f"{peak / len(summary.table):.0f} bytes per key"
