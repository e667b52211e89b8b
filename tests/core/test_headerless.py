"""Files with no header line: read when the rows show a known layout, rejected naming the layouts tried."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.flows import RejectedFile, summarize_stream
from core.headerless import HEADER_LAYOUT, JAVA_LAYOUT, PYTHON_LAYOUT, recognise
from core.ranges import summarize_path


def java_row(
    src: str = "10.0.0.1", dst: str = "10.0.0.2", dur: str = "100", pkts: str = "3", *, trailing: str = ""
) -> str:
    # Java CICFlowMeter: 84 fields; rate columns 20 and 21 (bytes/s, packets/s) give the unit away
    flow_id = f"{src}-{dst}-40000-1883-6"
    rates = f"{(int(pkts) + 1) * 1e6 / int(dur)!r}"
    middle = ",".join(["1", "0", "0"] + ["0"] * 8)  # Tot Bwd Pkts, TotLen Fwd/Bwd Pkts, packet lengths
    rest = ",".join(["0"] * 61 + ["NeedManualLabel"])
    endpoints = f"{flow_id},{src},40000,{dst},1883,6,19/01/1970 07:27:09 PM"
    return f"{endpoints},{dur},{pkts},{middle},0.0,{rates},{rest}{trailing}\n"


def python_row(src: str = "10.0.0.2", dst: str = "10.0.0.15", dur: str = "167.13", pkts: str = "2") -> str:
    # Python cicflowmeter with MACs: 84 fields, tot_fwd_pkts 14th
    head = f"{src},{dst},67,68,52:54:00:12:35:02,08:00:27:64:ea:34,17,2022-07-03 01:41:54,{dur},0.0,0.0,0.0,0.0"
    return f"{head},{pkts}," + ",".join(["0"] * 70) + "\n"


def run(text: str | bytes):  # type: ignore[no-untyped-def]
    return summarize_stream(io.BytesIO(text.encode() if isinstance(text, str) else text))


def test_rows_are_84_and_85_fields() -> None:
    assert len(java_row().split(",")) == 84 and len(java_row(trailing=",").split(",")) == 85
    assert len(python_row().split(",")) == 84


@pytest.mark.parametrize("trailing", ["", ","])
def test_java_layout_is_recognised_and_read_by_position(trailing: str) -> None:
    text = java_row(trailing=trailing) + java_row("10.0.0.2", "10.0.0.1", "50", "1", trailing=trailing)
    summary = run(text)
    assert summary.layout.layout == JAVA_LAYOUT
    assert "no header line; the rows fit the Java CICFlowMeter layout" in summary.layout.evidence
    assert "2 of the first 2 rows" in summary.layout.evidence
    assert summary.unit.unit == "us" and "2 of 2 checkable rows matched microseconds" in summary.unit.evidence
    assert summary.totals == {
        ("1970-01-19", "10.0.0.1", "10.0.0.2"): (100, 3, 1),
        ("1970-01-19", "10.0.0.2", "10.0.0.1"): (50, 1, 1),
    }
    assert summary.rows_read == 2 and not summary.skipped


def test_a_java_flow_id_names_the_flow_either_way_round() -> None:
    row = java_row()
    reversed_id = row.replace("10.0.0.1-10.0.0.2-40000-1883-6", "10.0.0.2-10.0.0.1-1883-40000-6")
    assert run(reversed_id).layout.layout == JAVA_LAYOUT
    with pytest.raises(RejectedFile, match="fit none of the known headerless layouts"):
        run(row.replace("10.0.0.1-10.0.0.2-40000-1883-6", "10.0.0.9-10.0.0.2-40000-1883-6"))


def test_python_layout_with_mac_columns_is_recognised_and_read_by_position() -> None:
    summary = run("\ufeff" + python_row() + python_row(dur="10869.98", pkts="5") + "\n")
    assert summary.layout.layout == PYTHON_LAYOUT
    assert "Python cicflowmeter with MAC columns" in summary.layout.evidence
    assert summary.totals == {("2022-07-03", "10.0.0.2", "10.0.0.15"): (167 + 10870, 7, 2)}


def test_broken_rows_of_a_recognised_file_are_skipped_and_counted_like_any() -> None:
    rows = [java_row() for _ in range(19)] + [java_row(src="10.0.0.999"), java_row(dur="-5")]
    summary = run("".join(rows))
    assert summary.layout.layout == JAVA_LAYOUT and "20 of the first 21 rows" in summary.layout.evidence
    assert summary.skipped == {"bad_ip": 1, "negative_number": 1} and summary.rows_kept == 19


@pytest.mark.parametrize(
    "text",
    [
        "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,BENIGN\n" * 3,  # too few fields
        java_row() + "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,BENIGN\n" * 2,  # 1 of 3 rows
        java_row().replace("19/01/1970 07:27:09 PM", "yesterday"),
        python_row().replace("52:54:00:12:35:02", "52:54:00:12:35"),
    ],
)
def test_an_unrecognised_headerless_file_is_rejected_naming_the_layouts_tried(text: str) -> None:
    with pytest.raises(RejectedFile) as caught:
        run(text)
    reason = str(caught.value)
    assert reason.startswith("no header line: the first line looks like flow data")
    assert "Java CICFlowMeter (84 or 85 fields: Flow ID, Src IP" in reason
    assert "Python cicflowmeter with MAC columns (84 fields: src_ip, dst_ip" in reason


def test_a_header_found_by_name_is_the_layout_of_every_other_file() -> None:
    summary = run("Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.0.0.1,10.0.0.2,2022-12-01 10:00:00,100,3\n")
    assert summary.layout.layout == HEADER_LAYOUT


def test_a_header_missing_a_column_is_not_taken_for_data() -> None:
    with pytest.raises(RejectedFile, match=r"missing required column\(s\): Flow Duration"):
        run("Src IP,Dst IP,Timestamp,Tot Fwd Pkts\n" + java_row())


def test_ranged_reading_of_a_headerless_file_gives_the_stream_result(tmp_path: Path) -> None:
    path = tmp_path / "headerless.csv"
    rows = [java_row(f"10.0.{n % 7}.1", "10.0.0.2", str(100 + n), str(1 + n % 5)) for n in range(3000)]
    path.write_text("\n" + "".join(rows))
    with path.open("rb") as stream:
        expected = summarize_stream(stream)
    assert expected.rows_read == 3000 and expected.layout.layout == JAVA_LAYOUT
    assert summarize_path(str(path), 3, min_bytes_per_job=0) == expected


POSITIONS = st.one_of(st.sampled_from(range(9)), st.integers(0, 90))
"""Mostly the fields the layouts are recognised by."""
FIELD_VALUES = st.sampled_from(["", "9" * 5000, "10.0.0.1", "fd00::1", "x", "-1", "70000", "1.5", '"', "a,b", "\xe9"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([java_row(), java_row(trailing=","), python_row()]), POSITIONS, FIELD_VALUES),
        min_size=1,
        max_size=30,
    )
)
def test_no_damage_to_headerless_rows_makes_the_reader_raise_anything_but_a_rejection(
    damage: list[tuple[str, int, str]],
) -> None:
    lines = []
    for line, position, value in damage:
        fields = line.rstrip("\n").split(",")
        fields[min(position, len(fields) - 1)] = value
        lines.append(",".join(fields) + "\n")
    try:
        summary = run("".join(lines))
    except RejectedFile as exc:
        assert str(exc).startswith("no header line") or "missing required" in str(exc), exc
    else:
        assert summary.layout.layout in (JAVA_LAYOUT, PYTHON_LAYOUT)
        assert summary.rows_read == summary.rows_kept + sum(summary.skipped.values())


@pytest.mark.parametrize("ahead", [[], [b"\r\n", b"  \n"]])
def test_a_blank_first_line_is_judged_like_any_other_not_an_index_error(ahead: list[bytes]) -> None:
    """Found by the hostile-bytes property (tests/core/test_flows.py): a whitespace-only first line."""
    reason = recognise(b" \r\n", ahead)
    assert isinstance(reason, str) and "0 of the first 1 rows" in reason
