"""clients.pairs on the planted state: filters by address and CIDR, --min-days, sorts by every column,
--top, a table on a terminal and DESIGN §4's CSV otherwise, checked against the files' own totals."""

from __future__ import annotations

import csv
import io
import ipaddress
import statistics
from pathlib import Path

import pytest

from clients import pairs
from core.stats import STATS_HEADER
from tests.clients.conftest import STACK, Planted


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert pairs.main([*args, *STACK]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(STATS_HEADER)
    return list(csv.DictReader(io.StringIO(out)))


def test_every_pair_with_its_statistics(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    rows = listed(capsys)
    assert {(r["SrcIP"], r["DstIP"]) for r in rows} == set(planted.expected)
    for row in rows:
        days = planted.expected[(row["SrcIP"], row["DstIP"])]
        assert int(row["Count"]) == len(days)
        assert float(row["AvgFlowDuration"]) == statistics.mean(v[0] for v in days.values())


@pytest.mark.parametrize(
    ("args", "src", "dst"),
    [
        (["--src", "10.1.0.0/24"], "10.1.0.0/24", None),
        (["--src", "10.1.0.77/16", "--dst", "13.0.0.0/12"], "10.1.0.0/16", "13.0.0.0/12"),
        (["--dst", "8.8.8.8"], None, "8.8.8.8/32"),
        (["--src", "2001:db8::/32"], "2001:db8::/32", None),
        (["--dst", "10.0.0.0/8"], None, "10.0.0.0/8"),
    ],
)
def test_filters_by_address_or_network(
    planted: Planted, capsys: pytest.CaptureFixture[str], args: list[str], src: str | None, dst: str | None
) -> None:
    def inside(ip: str, net: str | None) -> bool:
        return net is None or ipaddress.ip_address(ip) in ipaddress.ip_network(net)

    rows = listed(capsys, *args)
    assert {(r["SrcIP"], r["DstIP"]) for r in rows} == {
        p for p in planted.expected if inside(p[0], src) and inside(p[1], dst)
    }


@pytest.mark.parametrize("column", STATS_HEADER)
def test_sorts_by_every_column(planted: Planted, capsys: pytest.CaptureFixture[str], column: str) -> None:
    rows = listed(capsys, "--sort", column.lower(), "--min-days", "5")
    assert rows and all(int(r["Count"]) >= 5 for r in rows)
    assert len(rows) == sum(1 for days in planted.expected.values() if len(days) >= 5)
    if column in ("SrcIP", "DstIP"):
        keys = [(ipaddress.ip_address(r[column]).version, int(ipaddress.ip_address(r[column]))) for r in rows]
        assert keys == sorted(keys)
    else:
        values = [float(r[column]) for r in rows]
        assert values == sorted(values, reverse=True)
    assert listed(capsys, "--sort", column, "--min-days", "5", "--reverse") == rows[::-1]
    assert listed(capsys, "--sort", column, "--min-days", "5", "--top", "3") == rows[:3]


def test_a_table_on_a_terminal_and_a_file_with_o(
    planted: Planted, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert pairs.main(["--sort", "AvgFwdPkts", "--top", "2", *STACK]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == list(STATS_HEADER) and len(table) == 3
    assert len({line.index("AvgFlowDuration") for line in table[:1]}) == 1 and "," in table[1]
    assert len({len(line) for line in table}) == 1  # aligned, numbers right-justified
    target = tmp_path / "p.csv"
    assert pairs.main(["--top", "4", "-o", str(target), *STACK]) == 0
    assert len(target.read_text().splitlines()) == 5


def test_bad_filters_and_targets_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert pairs.main(["--src", "10.0.0.300/8", "--bucket", "b"]) == 3
    assert pairs.main(["-o", str(tmp_path / "no" / "p.csv"), "--bucket", "b"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    with pytest.raises(SystemExit) as exit_:
        pairs.main(["--sort", "Bytes", "--bucket", "b"])
    assert exit_.value.code == 2
