from __future__ import annotations

import ast
import io
import itertools
import random
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.counts import Counts, Key, merged
from core.flows import summarize_stream
from core.stats import by_pair, pair_stats, write_export, write_traffic_stats
from core.summary import read_summary, write_summary

CORE = Path(__file__).resolve().parents[2] / "core"


def test_worked_example_of_design_section_4() -> None:
    # The original wrote 2022-12-02 twice (3276493 and 648344); we merge the day.
    rows = [
        (Key("2022-12-01", "192.168.20.48", "13.246.0.149"), Counts(3327152, 84, 1)),
        (Key("2022-12-02", "192.168.20.48", "13.246.0.149"), Counts(3276493, 86, 1)),
        (Key("2022-12-02", "192.168.20.48", "13.246.0.149"), Counts(648344, 18, 1)),
        (Key("2022-12-04", "192.168.20.48", "13.246.0.149"), Counts(5182253, 139, 1)),
    ]
    days = by_pair(rows)[("192.168.20.48", "13.246.0.149")]
    stats = pair_stats(days)
    assert [days[d].duration for d in sorted(days)] == [3327152, 3924837, 5182253]
    assert stats.cells() == ("3", "4144747.3333333335", "946900.388678943", "109.0", "27.83882181415011")


def test_exact_bytes_of_the_three_writers() -> None:
    totals = {
        Key("2022-12-02", "10.0.0.1", "10.0.0.2"): Counts(5, 1, 1),
        Key("2022-12-01", "10.0.0.1", "10.0.0.2"): Counts(3, 2, 2),
    }
    summary = io.StringIO()
    write_summary(summary, totals)
    assert summary.getvalue() == (
        "Date,SrcIP,DstIP,TotalFlowDuration,TotalFwdPkts,Flows\n"
        "2022-12-01,10.0.0.1,10.0.0.2,3,2,2\n"
        "2022-12-02,10.0.0.1,10.0.0.2,5,1,1\n"
    )
    pairs = by_pair(totals.items())
    stats = io.StringIO()
    write_traffic_stats(stats, {pair: pair_stats(days) for pair, days in pairs.items()})
    assert stats.getvalue() == (
        "SrcIP,DstIP,Count,AvgFlowDuration,StdFlowDuration,AvgFwdPkts,StdFwdPkts\n"
        "10.0.0.1,10.0.0.2,2,4.0,1.4142135623730951,1.5,0.7071067811865476\n"
    )
    export = io.StringIO()
    write_export(export, ("10.0.0.1", "10.0.0.2"), pairs[("10.0.0.1", "10.0.0.2")])
    assert export.getvalue() == (
        "Date,SrcIP,DstIP,TotalFlowDuration,TotalFwdPkts,Count,AvgFlowDuration,StdFlowDuration,AvgFwdPkts,StdFwdPkts\n"
        "2022-12-01,10.0.0.1,10.0.0.2,3,2,2,4.0,1.4142135623730951,1.5,0.7071067811865476\n"
        "2022-12-02,10.0.0.1,10.0.0.2,5,1,2,4.0,1.4142135623730951,1.5,0.7071067811865476\n"
    )
    assert read_summary(summary.getvalue().splitlines()) == totals


def test_single_day_has_zero_std() -> None:
    assert pair_stats({"2022-12-01": Counts(7, 1, 1)}).cells() == ("1", "7.0", "0.0", "1.0", "0.0")


HEADER = "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.1", "10.0.0.2", "fd00::1"]),
            st.sampled_from(["8.8.8.8", "1.1.1.1"]),
            st.integers(1, 5),
            st.integers(0, 2**40),
            st.integers(0, 500),
        ),
        min_size=1,
        max_size=60,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    seed=st.integers(0, 1000),
)
def test_cutting_a_file_in_parts_and_merging_changes_nothing(rows, cuts, seed) -> None:  # type: ignore[no-untyped-def]
    lines = [f"{s},{d},2022-12-0{day} 10:00:00,{dur},{pk}\n" for s, d, day, dur, pk in rows]
    whole = summarize_stream(io.BytesIO((HEADER + "".join(lines)).encode())).totals
    bounds = sorted({0, len(lines), *(c for c in cuts if c <= len(lines))})
    parts = [lines[a:b] for a, b in itertools.pairwise(bounds)]
    random.Random(seed).shuffle(parts)
    combined = merged(summarize_stream(io.BytesIO((HEADER + "".join(p)).encode())).totals for p in parts)
    assert combined == whole
    assert {p: pair_stats(d) for p, d in by_pair(combined.items()).items()} == {
        p: pair_stats(d) for p, d in by_pair(whole.items()).items()
    }


def test_core_imports_only_the_standard_library() -> None:
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top == "core" or top == "__future__" or top in sys.stdlib_module_names, f"{path}: {name}"
