"""Flow files with no header line: the column layout recognised from the rows themselves.

Two tools are known to write flows without a header: a Java CICFlowMeter build (84 fields a row,
85 with a trailing comma, beginning `Flow ID, Src IP, Src Port, Dst IP, Dst Port, Protocol,
Timestamp, Flow Duration, Tot Fwd Pkts`) and the Python port's variant with MAC columns (84 fields,
beginning `src_ip, dst_ip, src_port, dst_port, src_mac, dst_mac, protocol, timestamp,
flow_duration`). Each row is checked against each layout where it is most distinctive: the
addresses, ports, protocol and timestamp where the layout puts them, and the Flow ID the Java tool
builds from them, or the MAC addresses of the Python port. A file is read in a layout when its
first line and at least 90% of the rows looked at fit it; the decision and its evidence are
recorded with the file, like the duration unit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from core.timestamps import parse_day

HEADER_LAYOUT: Final = "header"
JAVA_LAYOUT: Final = "java-cicflowmeter"
PYTHON_LAYOUT: Final = "python-cicflowmeter-mac"
_AGREEMENT: Final = 0.9
_MAC: Final = re.compile(rb"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")


class LayoutDecision(NamedTuple):
    layout: str
    """HEADER_LAYOUT (columns found by name), or the name of the recognised headerless layout"""
    evidence: str
    """Why, in words, for the status record and the CLI report."""


BY_HEADER: Final = LayoutDecision(HEADER_LAYOUT, "columns found by name in the header line")


def _ip(raw: bytes) -> str | None:
    try:
        return str(ipaddress.ip_address(raw.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None


def _in_range(raw: bytes, top: int) -> bool:
    return raw.isdigit() and len(raw) <= len(str(top)) and int(raw) <= top


def _endpoints(fields: Sequence[bytes], src: int, dst: int, ports: tuple[int, int], protocol: int) -> bool:
    return (
        _ip(fields[src]) is not None
        and _ip(fields[dst]) is not None
        and all(_in_range(fields[port], 65535) for port in ports)
        and _in_range(fields[protocol], 255)
    )


def _timestamp(raw: bytes) -> bool:
    return parse_day(raw.decode("utf-8", "replace")) is not None


def _java_row(fields: Sequence[bytes]) -> bool:
    if len(fields) not in (84, 85) or not _endpoints(fields, 1, 3, (2, 4), 5) or not _timestamp(fields[6]):
        return False
    src, src_port, dst, dst_port, protocol = fields[1:6]
    return fields[0] in (  # the tool names a flow after its first packet, either way round
        b"-".join((src, dst, src_port, dst_port, protocol)),
        b"-".join((dst, src, dst_port, src_port, protocol)),
    )


def _python_row(fields: Sequence[bytes]) -> bool:
    return (
        len(fields) == 84
        and _endpoints(fields, 0, 1, (2, 3), 6)
        and all(_MAC.fullmatch(fields[i]) for i in (4, 5))
        and _timestamp(fields[7])
    )


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    """The tool, for the evidence and the rejection."""
    fields: str
    """The field count and leading columns, in words."""
    header: str
    """The header line the tool would have written, as far as the reader needs its columns."""
    fits: Callable[[Sequence[bytes]], bool]
    checked: str
    """What `fits` checks, in words."""

    @property
    def columns(self) -> list[str]:
        return self.header.split(",")


LAYOUTS: Final = (
    Layout(
        JAVA_LAYOUT,
        "Java CICFlowMeter",
        "84 or 85 fields: Flow ID, Src IP, Src Port, Dst IP, Dst Port, Protocol, Timestamp, Flow Duration, "
        "Tot Fwd Pkts, ...",
        "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,"
        "Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,Fwd Pkt Len Max,Fwd Pkt Len Min,Fwd Pkt Len Mean,"
        "Fwd Pkt Len Std,Bwd Pkt Len Max,Bwd Pkt Len Min,Bwd Pkt Len Mean,Bwd Pkt Len Std,Flow Byts/s,"
        "Flow Pkts/s",
        _java_row,
        "IPs, ports, protocol and timestamp in place, and the Flow ID made of them",
    ),
    Layout(
        PYTHON_LAYOUT,
        "Python cicflowmeter with MAC columns",
        "84 fields: src_ip, dst_ip, src_port, dst_port, src_mac, dst_mac, protocol, timestamp, flow_duration, "
        "..., tot_fwd_pkts (14th), ...",
        "src_ip,dst_ip,src_port,dst_port,src_mac,dst_mac,protocol,timestamp,flow_duration,flow_byts_s,"
        "flow_pkts_s,fwd_pkts_s,bwd_pkts_s,tot_fwd_pkts,tot_bwd_pkts,totlen_fwd_pkts,totlen_bwd_pkts",
        _python_row,
        "IPs, ports, MAC addresses, protocol and timestamp in place",
    ),
)


class Recognised(NamedTuple):
    layout: Layout
    decision: LayoutDecision


def _fields(line: bytes) -> list[bytes]:
    return line.rstrip(b"\r\n").split(b",")


def recognise(first: bytes, ahead: Sequence[bytes]) -> Recognised | str:
    """The layout of a file whose first data line is `first`, judged on it and the lines `ahead`;
    or, when no layout fits, a reason naming the layouts tried and how many rows fit each."""
    rows = [_fields(first), *(_fields(line) for line in ahead if line.strip())]
    tried = []
    for layout in LAYOUTS:
        fit = sum(1 for fields in rows if layout.fits(fields))
        share = f"{fit} of the first {len(rows)} rows"
        if layout.fits(rows[0]) and fit >= _AGREEMENT * len(rows):
            named = f"the {layout.title} layout ({layout.fields})"
            evidence = f"no header line; the rows fit {named}: {share}, by {layout.checked}"
            return Recognised(layout, LayoutDecision(layout.name, evidence))
        tried.append(f"{layout.title} ({layout.fields}): {share} fit")
    return "; ".join(tried)
