"""The unit of a file's flow durations, decided from the file's own rows.

CICFlowMeter's Java tool writes `Flow Duration` in microseconds; the Python port wrote
`flow_duration` in microseconds up to 0.2.x and in seconds from 0.3.0, under the same header.
Both tools also write the flow's packet rate (and byte rate), computed from the duration in
seconds, so on every row with a positive rate `duration x rate / packets` is 1e6 when the
duration is in microseconds and 1 when it is in seconds. The first rows of the file decide.

Microseconds is the default. A wrong "seconds" multiplies every duration of the file by 1e6, so
leaving the default needs a clear majority of *every* checkable row (one whose duration, amount and
rate are positive numbers), not only of the rows that happen to match a unit, and enough of them
that coincidence cannot produce it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple

MICROSECONDS: Final = "us"
SECONDS: Final = "s"
_TOLERANCE: Final = 0.01
_AGREEMENT: Final = 0.9
"""Share of the checkable rows that must agree for the evidence to decide."""
MIN_CHECKABLE_ROWS: Final = 20
"""Checkable rows needed to leave microseconds. With rates shuffled between the rows of the real
files (rates unrelated to durations), 41 of 227,520 rows matched seconds (p = 1.8e-4); even at
p = 0.1, 18 of 20 rows match by chance with probability < 1e-15. Every real capture of the Python
port (the tool that writes seconds) with more than one flow has 46 checkable rows or more."""

BWD_PKTS: Final = "bwd_pkts"
PKT_RATE: Final = "pkt_rate"
FWD_BYTES: Final = "fwd_bytes"
BWD_BYTES: Final = "bwd_bytes"
BYTE_RATE: Final = "byte_rate"
EVIDENCE_SPELLINGS: Final = {
    "tot bwd pkts": BWD_PKTS,
    "total backward packets": BWD_PKTS,
    "total bwd packets": BWD_PKTS,
    "total bwd packet": BWD_PKTS,
    "tot_bwd_pkts": BWD_PKTS,
    "flow pkts/s": PKT_RATE,
    "flow packets/s": PKT_RATE,
    "flow_pkts_s": PKT_RATE,
    "totlen fwd pkts": FWD_BYTES,
    "total length of fwd packets": FWD_BYTES,
    "total length of fwd packet": FWD_BYTES,
    "totlen_fwd_pkts": FWD_BYTES,
    "totlen bwd pkts": BWD_BYTES,
    "total length of bwd packets": BWD_BYTES,
    "total length of bwd packet": BWD_BYTES,
    "totlen_bwd_pkts": BWD_BYTES,
    "flow byts/s": BYTE_RATE,
    "flow bytes/s": BYTE_RATE,
    "flow_byts_s": BYTE_RATE,
}


class UnitDecision(NamedTuple):
    unit: str
    """MICROSECONDS or SECONDS"""
    evidence: str
    """Why, in words, for the status record and the CLI report."""


def find_columns(header: Iterable[str], spellings: Mapping[str, str]) -> dict[str, int]:
    """Canonical name -> position of its first column, matching names case- and space-insensitively."""
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        canonical = spellings.get(name.strip().lower())
        if canonical is not None and canonical not in columns:
            columns[canonical] = position
    return columns


def evidence_columns(header: Iterable[str]) -> dict[str, int]:
    return find_columns(header, EVIDENCE_SPELLINGS)


def _number(fields: list[bytes], index: int) -> float | None:
    if index >= len(fields):
        return None
    try:
        value = float(fields[index])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _ratio(fields: list[bytes], duration: int, amounts: tuple[int, ...], rate: int) -> float | None:
    values = [_number(fields, i) for i in (duration, *amounts, rate)]
    if any(v is None for v in values):
        return None
    seconds_or_micros, *parts, per_second = (float(v) for v in values if v is not None)
    amount = sum(parts)
    if seconds_or_micros <= 0 or amount <= 0 or per_second <= 0:
        return None
    return seconds_or_micros * per_second / amount


def _split(line: bytes) -> list[bytes]:
    if b'"' not in line:
        return line.split(b",")
    try:
        row = next(csv.reader([line.decode("utf-8", "replace")]), [])
    except csv.Error:
        return []
    return [value.encode() for value in row]


class Evidence(NamedTuple):
    """How the checkable rows of a file matched the two units."""

    micros: int
    seconds: int
    neither: int

    @property
    def checkable(self) -> int:
        return self.micros + self.seconds + self.neither

    def __str__(self) -> str:
        return (
            f"{self.micros} of {self.checkable} checkable rows matched microseconds (duration x rate / amount = 1e6), "
            f"{self.seconds} seconds (= 1), {self.neither} neither"
        )


def decide_unit(lines: Iterable[bytes], duration: int, fwd_pkts: int, columns: Mapping[str, int]) -> UnitDecision:
    checks: list[tuple[int, ...]] = []
    if BWD_PKTS in columns and PKT_RATE in columns:
        checks.append((fwd_pkts, columns[BWD_PKTS], columns[PKT_RATE]))
    if FWD_BYTES in columns and BWD_BYTES in columns and BYTE_RATE in columns:
        checks.append((columns[FWD_BYTES], columns[BWD_BYTES], columns[BYTE_RATE]))
    if not checks:
        return UnitDecision(MICROSECONDS, "microseconds by default: the file has no packet or byte rate column")
    return decide_from(_evidence(lines, duration, checks))


def _evidence(lines: Iterable[bytes], duration: int, checks: list[tuple[int, ...]]) -> Evidence:
    """Each row counts once: under its first check (packets, then bytes) whose ratio is computable."""
    micros = seconds = neither = 0
    for line in lines:
        fields = _split(line)
        for *amounts, rate in checks:
            ratio = _ratio(fields, duration, tuple(amounts), rate)
            if ratio is None:
                continue
            if abs(ratio / 1e6 - 1) <= _TOLERANCE:
                micros += 1
            elif abs(ratio - 1) <= _TOLERANCE:
                seconds += 1
            else:
                neither += 1
            break
    return Evidence(micros, seconds, neither)


def decide_from(evidence: Evidence) -> UnitDecision:
    checkable = evidence.checkable
    if checkable == 0:
        return UnitDecision(MICROSECONDS, "microseconds by default: no row with a positive rate to check against")
    if evidence.micros >= _AGREEMENT * checkable:
        return UnitDecision(MICROSECONDS, f"microseconds: {evidence}")
    if evidence.seconds >= _AGREEMENT * checkable and checkable >= MIN_CHECKABLE_ROWS:
        return UnitDecision(SECONDS, f"seconds: {evidence}")
    disagreed = checkable - evidence.micros
    return UnitDecision(
        MICROSECONDS,
        f"microseconds by default, the rows are inconclusive ({disagreed} of {checkable} disagree with microseconds; "
        f"seconds needs {_AGREEMENT:.0%} of at least {MIN_CHECKABLE_ROWS}): {evidence}",
    )
