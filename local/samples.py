"""Generator of realistic CICFlowMeter flow logs, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import datetime
import gzip
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

JAVA_HEADER = [
    "Flow ID",
    "Src IP",
    "Src Port",
    "Dst IP",
    "Dst Port",
    "Protocol",
    "Timestamp",
    "Flow Duration",
    "Tot Fwd Pkts",
    "Tot Bwd Pkts",
    "TotLen Fwd Pkts",
    "TotLen Bwd Pkts",
    "Fwd Pkt Len Max",
    "Fwd Pkt Len Min",
    "Fwd Pkt Len Mean",
    "Fwd Pkt Len Std",
    "Bwd Pkt Len Max",
    "Bwd Pkt Len Min",
    "Bwd Pkt Len Mean",
    "Bwd Pkt Len Std",
    "Flow Byts/s",
    "Flow Pkts/s",
    "Flow IAT Mean",
    "Flow IAT Std",
    "Flow IAT Max",
    "Flow IAT Min",
    "Fwd IAT Tot",
    "Fwd IAT Mean",
    "Fwd IAT Std",
    "Fwd IAT Max",
    "Fwd IAT Min",
    "Bwd IAT Tot",
    "Bwd IAT Mean",
    "Bwd IAT Std",
    "Bwd IAT Max",
    "Bwd IAT Min",
    "Fwd PSH Flags",
    "Bwd PSH Flags",
    "Fwd URG Flags",
    "Bwd URG Flags",
    "Fwd Header Len",
    "Bwd Header Len",
    "Fwd Pkts/s",
    "Bwd Pkts/s",
    "Pkt Len Min",
    "Pkt Len Max",
    "Pkt Len Mean",
    "Pkt Len Std",
    "Pkt Len Var",
    "FIN Flag Cnt",
    "SYN Flag Cnt",
    "RST Flag Cnt",
    "PSH Flag Cnt",
    "ACK Flag Cnt",
    "URG Flag Cnt",
    "CWE Flag Count",
    "ECE Flag Cnt",
    "Down/Up Ratio",
    "Pkt Size Avg",
    "Fwd Seg Size Avg",
    "Bwd Seg Size Avg",
    "Fwd Byts/b Avg",
    "Fwd Pkts/b Avg",
    "Fwd Blk Rate Avg",
    "Bwd Byts/b Avg",
    "Bwd Pkts/b Avg",
    "Bwd Blk Rate Avg",
    "Subflow Fwd Pkts",
    "Subflow Fwd Byts",
    "Subflow Bwd Pkts",
    "Subflow Bwd Byts",
    "Init Fwd Win Byts",
    "Init Bwd Win Byts",
    "Fwd Act Data Pkts",
    "Fwd Seg Size Min",
    "Active Mean",
    "Active Std",
    "Active Max",
    "Active Min",
    "Idle Mean",
    "Idle Std",
    "Idle Max",
    "Idle Min",
    "Label",
]
CIC_IDS2017_RENAMES = {
    "Src IP": "Source IP",
    "Dst IP": "Destination IP",
    "Src Port": "Source Port",
    "Dst Port": "Destination Port",
    "Tot Fwd Pkts": "Total Fwd Packets",
    "Tot Bwd Pkts": "Total Backward Packets",
}
STYLES = ("java", "cic-ids2017", "variot", "python-port")


@dataclass(frozen=True)
class SampleFile:
    path: Path
    rows: int
    broken: int


RATE_COLUMN = JAVA_HEADER.index("Flow Pkts/s")
"""The last column the sample rows need: the reader decides the duration's unit from it."""


def header_for(style: str) -> list[str]:
    if style == "java":
        return list(JAVA_HEADER)
    if style == "cic-ids2017":
        return [" " + CIC_IDS2017_RENAMES.get(name, name) for name in JAVA_HEADER]
    if style == "variot":
        return [
            {"Src IP": "Source IP", "Dst IP": "Destination IP", "Timestamp": "TimeStamp"}.get(n, n) for n in JAVA_HEADER
        ]
    if style == "python-port":
        return [name.lower().replace(" ", "_").replace("/", "_") for name in JAVA_HEADER]
    raise ValueError(f"unknown style {style!r}")


def device_pairs(branch: int, count: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed * 7919 + branch)
    pairs = []
    for n in range(count):
        src = f"10.{branch % 250}.{n // 200}.{n % 200 + 2}"
        if n % 17 == 5:
            dst = f"2001:db8:{branch:x}::{rng.randrange(1, 0xFFFF):x}"
            src = f"fd00:{branch:x}::{n + 1:x}"
        else:
            dst = f"{rng.choice((13, 34, 52, 104, 142, 151))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        pairs.append((src, dst))
    return pairs


def _timestamp(style: str, day: datetime.date, seconds: int) -> str:
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    if style in ("python-port", "variot"):
        return f"{day.isoformat()} {hour:02d}:{minute:02d}:{second:02d}"
    meridiem = "AM" if hour < 12 else "PM"
    return f"{day.day:02d}/{day.month:02d}/{day.year} {(hour % 12) or 12:02d}:{minute:02d}:{second:02d} {meridiem}"


def write_flows(
    out: BinaryIO,
    rows: int,
    pairs: Sequence[tuple[str, str]],
    days: Sequence[datetime.date],
    *,
    style: str = "java",
    broken: int = 0,
    seed: int = 0,
    columns: int = len(JAVA_HEADER),
) -> None:
    """Write `rows` flows (plus `broken` broken rows) spread over `pairs` and `days`, timestamps ascending,
    in the first `columns` columns of the style's header (at least through Flow Pkts/s)."""
    if not RATE_COLUMN < columns <= len(JAVA_HEADER):
        raise ValueError(f"columns must be {RATE_COLUMN + 1} to {len(JAVA_HEADER)}")
    rng = random.Random(seed)
    # The columns after Tot Fwd Pkts: Tot Bwd Pkts first, Flow Pkts/s 12 further, both consistent with the
    # duration (the reader decides the duration's unit from them); the rest is filler.
    filler = [[str(rng.randrange(0, 5000)) for _ in range(len(JAVA_HEADER) - 9)] for _ in range(16)]
    tails = [
        (int(values[0]) % 50, ",".join(values[1:12]), "".join("," + value for value in values[13 : columns - 9]))
        for values in filler
    ]
    out.write(("\ufeff" + ",".join(header_for(style)[:columns]) + "\r\n").encode())
    broken_at = set(rng.sample(range(rows + broken), broken)) if broken else set()
    per_day = max(1, (rows + broken) // max(1, len(days)))
    lines = []
    for n in range(rows + broken):
        day = days[min(n // per_day, len(days) - 1)]
        seconds = min(86399, (n % per_day) * 86400 // per_day)
        src, dst = pairs[rng.randrange(len(pairs))]
        duration = rng.randrange(0, 120_000_000) if n % 997 else rng.randrange(2**32, 2**33)
        packets = rng.randrange(1, 200)
        stamp = _timestamp(style, day, seconds)
        shown = f"{duration / 1e6:.6f}" if style == "python-port" else str(duration)
        fields = [f"{src}-{dst}-{n}", src, str(rng.randrange(1024, 65535)), dst, "443", "6", stamp, shown, str(packets)]
        if n in broken_at:
            kind = n % 4
            if kind == 0:
                fields[1] = "999.1.1.1"
            elif kind == 1:
                fields[7] = "-5"
            elif kind == 2:
                fields[6] = "31/02/2022 10:00:00 AM"
            else:
                fields = fields[:5]
        backward, middle, rest = tails[n % 16]
        rate = f"{(packets + backward) * 1e6 / duration:.9g}" if duration else "0"
        lines.append(f"{','.join(fields)},{backward},{middle},{rate}{rest}\r\n")
        if len(lines) >= 4096:
            out.write("".join(lines).encode())
            lines.clear()
    out.write("".join(lines).encode())


def write_sample_file(
    path: Path,
    rows: int,
    pairs: Sequence[tuple[str, str]],
    days: Sequence[datetime.date],
    *,
    style: str = "java",
    broken: int = 0,
    seed: int = 0,
    columns: int = len(JAVA_HEADER),
) -> SampleFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as out:
        write_flows(out, rows, pairs, days, style=style, broken=broken, seed=seed, columns=columns)  # type: ignore[arg-type]
    return SampleFile(path, rows, broken)


def demo_dataset(folder: Path, total_rows: int = 120_000, seed: int = 1) -> list[SampleFile]:
    """Three branches, eight files, days spanning files, a few broken rows, every header dialect."""
    start = datetime.date(2022, 12, 1)
    day = [start + datetime.timedelta(days=n) for n in range(8)]
    plan = [
        ("paris", "2022-12-01.csv", "java", day[0:2]),
        ("paris", "2022-12-02.csv", "java", day[1:4]),
        ("paris", "2022-12-04.csv.gz", "java", day[3:6]),
        ("berlin", "week49.csv", "cic-ids2017", day[0:4]),
        ("berlin", "week49-late.csv", "variot", day[3:7]),
        ("tokyo", "probe-a.csv", "java", day[0:3]),
        ("tokyo", "probe-b.csv.gz", "python-port", day[2:6]),
        ("tokyo", "probe-c.csv", "java", day[5:8]),
    ]
    per_file = total_rows // len(plan)
    files = []
    for n, (branch, name, style, days) in enumerate(plan):
        pairs = device_pairs(len(branch), 40, seed) + device_pairs(1, 5, seed)
        files.append(
            write_sample_file(folder / branch / name, per_file, pairs, days, style=style, broken=3 + n, seed=seed + n)
        )
    return files


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m local.samples",
        description="Write the demo's sample flow logs: FOLDER/<branch>/<file>.csv for the branches paris, berlin "
        "and tokyo, 8 files in every header dialect, days that span files, a few broken rows.",
    )
    parser.add_argument("folder", metavar="FOLDER", type=Path)
    parser.add_argument("--rows", type=int, default=120_000, help="flows in all (default: 120,000)")
    args = parser.parse_args(argv)
    files = demo_dataset(args.folder, args.rows)
    print(f"wrote {len(files)} files, {sum(f.rows for f in files):,} flows, under {args.folder}/<branch>/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
