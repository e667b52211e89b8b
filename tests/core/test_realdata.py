"""Every real CICFlowMeter file in ../shared/realdata/ against a careful independent reading.

The independent reading uses only csv, datetime, decimal and ipaddress, never core: the spellings
of DESIGN section 3, timestamps through strptime, durations in microseconds rounded half-even,
packet counts integral within 1e-6. The two captures with no header line are read by position, in
the column orders their tools write (see HEADERLESS). The real files are read where they are, never
copied (REALDATA=folder points elsewhere, e.g. from a worktree that has no ../shared beside it).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("REALDATA", ROOT.parent / "shared" / "realdata"))
FILES = sorted(REALDATA.glob("*.csv")) if REALDATA.is_dir() else []
REJECTED = {
    "pyvariant-noip-flows.csv": "missing required column(s): Src IP, Dst IP",
}
HEADERLESS = {
    # Java CICFlowMeter: Flow ID, Src IP, Src Port, Dst IP, Dst Port, Protocol, Timestamp, Flow Duration, Tot Fwd Pkts
    "iot-mqtt-java-headerless-2022-01-26-collected.csv": (
        {"src": 1, "dst": 3, "ts": 6, "dur": 7, "pkts": 8},
        "no header line; the rows fit the Java CICFlowMeter layout",
    ),
    # Python cicflowmeter with MACs: src_ip, dst_ip, src_port, dst_port, src_mac, dst_mac, protocol, timestamp,
    # flow_duration, flow_byts_s, flow_pkts_s, fwd_pkts_s, bwd_pkts_s, tot_fwd_pkts
    "pycfm-headerless-ids-flows.csv": (
        {"src": 0, "dst": 1, "ts": 7, "dur": 8, "pkts": 13},
        "no header line; the rows fit the Python cicflowmeter with MAC columns layout",
    ),
}
NAMES = {
    "src": {"src ip", "source ip", "src_ip"},
    "dst": {"dst ip", "destination ip", "dst_ip"},
    "ts": {"timestamp"},
    "dur": {"flow duration", "flow_duration"},
    "pkts": {"tot fwd pkts", "total fwd packets", "total fwd packet", "tot_fwd_pkts"},
}
FORMATS = (
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
)

pytestmark = pytest.mark.skipif(not FILES, reason=f"no real files: {REALDATA} is absent (it is beside a checkout)")


def day_of(text: str) -> str | None:
    for layout in FORMATS:
        try:
            return datetime.datetime.strptime(text.strip(), layout).date().isoformat()
        except ValueError:
            continue
    return None


def ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def number(text: str) -> decimal.Decimal | None:
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        return None
    return value if value.is_finite() else None


def independent_totals(path: Path) -> tuple[dict[tuple[str, str, str], tuple[int, int, int]], int]:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = [row for row in csv.reader(handle) if row]  # a line of empty fields (",,,") is a row
    if path.name in HEADERLESS:
        column = HEADERLESS[path.name][0]
    else:
        header = [name.strip().lower().lstrip("\ufeff") for name in rows.pop(0)]
        column = {field: next(i for i, name in enumerate(header) if name in names) for field, names in NAMES.items()}
    totals: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    for row in rows:
        if len(row) <= max(column.values()):
            continue
        day, src, dst = day_of(row[column["ts"]]), ip(row[column["src"]]), ip(row[column["dst"]])
        duration, packets = number(row[column["dur"]]), number(row[column["pkts"]])
        if None in (day, src, dst, duration, packets):
            continue
        assert day and src and dst and duration is not None and packets is not None
        whole = packets.to_integral_value()
        if duration < 0 or packets < 0 or abs(packets - whole) > decimal.Decimal("1e-6"):
            continue
        d, p, f = totals.get((day, src, dst), (0, 0, 0))
        micros = int(duration.to_integral_value(decimal.ROUND_HALF_EVEN))
        totals[(day, src, dst)] = (d + micros, p + int(whole), f + 1)
    return totals, len(rows)


def summarize_cli(
    path: Path,
) -> tuple[subprocess.CompletedProcess[str], dict[tuple[str, str, str], tuple[int, int, int]]]:
    done = subprocess.run(
        [sys.executable, "-m", "core.summarize", str(path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    totals = {
        (row[0], row[1], row[2]): (int(row[3]), int(row[4]), int(row[5]))
        for row in list(csv.reader(done.stdout.splitlines()))[1:]
    }
    return done, totals


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_real_file_gives_the_daily_totals_of_an_independent_reading(path: Path) -> None:
    done, totals = summarize_cli(path)
    if path.name in REJECTED:
        assert done.returncode == 1 and f"rejected: {REJECTED[path.name]}" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    expected, data_lines = independent_totals(path)
    assert totals == expected
    assert "flow duration in microseconds" in done.stderr  # every accepted real file is in microseconds
    assert "inconclusive" not in done.stderr
    if path.name in HEADERLESS:
        assert HEADERLESS[path.name][1] in done.stderr
    counts = re.search(r"(\d+) rows read, (\d+) kept, (\d+) skipped", done.stderr)
    assert counts is not None, done.stderr
    read, kept, skipped = (int(group) for group in counts.groups())
    assert read == data_lines and read == kept + skipped
    assert kept == sum(flows for _, _, flows in expected.values())
