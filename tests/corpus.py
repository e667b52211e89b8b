"""The bad-input corpus: each kind of broken file a branch may send, with its documented outcome.

An outcome is either ("rejected", words of the reason) - the file is moved to rejected/ and its
status says why - or ("skipped", {reason: rows}) - the file is summarized, its broken rows counted.
"""

from __future__ import annotations

import datetime
import gzip
import random
from collections.abc import Callable

HEADER = "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Label\n"
GOOD_ROW = "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,BENIGN\n"
JAVA_HEADERLESS_ROW = (
    "10.0.0.1-10.0.0.2-1-2-6,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3," + "0," * 74 + "NeedManualLabel\n"
)
"""A row of the Java CICFlowMeter's 84-field layout, as a build that writes no header line leaves it."""


def _rows(*bad: str) -> bytes:
    """Two good rows around the bad ones."""
    return (HEADER + GOOD_ROW + "".join(bad) + GOOD_ROW).encode()


def _one_row_a_day(days: int) -> bytes:
    """A file whose rows cover `days` days, from 1 January 2000: more than a file may hold by default (366)."""
    start = datetime.date(2000, 1, 1)
    dates = (start + datetime.timedelta(days=n) for n in range(days))
    return (HEADER + "".join(GOOD_ROW.replace("01/12/2022", f"{day:%d/%m/%Y}") for day in dates)).encode()


CORPUS: dict[str, tuple[Callable[[], bytes], str, str | dict[str, int]]] = {
    "empty.csv": (lambda: b"", "rejected", "empty file"),
    "header-only.csv": (lambda: HEADER.encode(), "skipped", {}),
    "missing-column.csv": (
        lambda: b"Src IP,Dst IP,Timestamp,Tot Fwd Pkts\n1.1.1.1,2.2.2.2,x,1\n",
        "rejected",
        "missing required column(s): Flow Duration",
    ),
    "semicolons.csv": (lambda: HEADER.replace(",", ";").encode(), "rejected", "not comma-separated"),
    "tabs.csv": (lambda: HEADER.replace(",", "\t").encode(), "rejected", "not comma-separated"),
    "utf16.csv": (lambda: HEADER.encode("utf-16"), "rejected", "UTF-16"),
    "binary-garbage.csv": (lambda: bytes(range(256)) * 64, "rejected", "binary data"),
    "random-bytes.csv": (lambda: random.Random(7).randbytes(200_000), "rejected", "binary data"),
    "nul-bytes.csv": (lambda: b"\x00" * 5000, "rejected", "binary data"),
    "headerless.csv": (lambda: GOOD_ROW.encode() * 3, "rejected", "fit none of the known headerless layouts"),
    "headerless-java-layout.csv": (lambda: JAVA_HEADERLESS_ROW.encode() * 2, "skipped", {}),
    "implausible-dates.csv": (
        lambda: _rows(
            "f,10.0.0.1,1,10.0.0.2,2,6,31/12/1969 10:00:00 PM,1,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,01/01/2100 10:00:00 AM,1,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,15/06/0001 10:00:00 AM,1,3,x\n",
        ),
        "skipped",
        {"implausible_date": 3},
    ),
    "too-many-dates.csv": (lambda: _one_row_a_day(400), "rejected", "too many dates: the rows hold 400 distinct days"),
    "gzip-magic-then-garbage.csv.gz": (lambda: b"\x1f\x8b" + bytes(range(256)) * 8, "rejected", "corrupt gzip"),
    "100000-columns.csv": (lambda: ",".join(f"c{n}" for n in range(100_000)).encode(), "rejected", "missing required"),
    "cr-only-lines.csv": (lambda: _rows().replace(b"\n", b"\r"), "skipped", {}),
    "unclosed-quote.csv": (
        lambda: _rows('f,"10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,x\n'),
        "skipped",
        {"unclosed_quote": 1},
    ),
    "truncated.csv.gz": (lambda: gzip.compress(_rows() * 200)[:300], "rejected", "truncated or corrupt gzip"),
    "one-10MB-line.csv": (lambda: b"x," * 5_000_000, "rejected", "not a flow CSV header"),
    "5MB-data-line.csv": (lambda: _rows("9" * 5_000_000 + "\n"), "skipped", {"missing_field": 1}),
    "non-utf8-bytes.csv": (
        lambda: (
            HEADER.encode()
            + GOOD_ROW.encode()
            + b"f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,caf\xe9\n"
            + b"f,10.0.0.\xe9,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,3,x\n"
        ),
        "skipped",
        {"bad_ip": 1},
    ),
    "too-few-fields.csv": (lambda: _rows("f,10.0.0.1,1,10.0.0.2\n", "f,10.0.0.1\n"), "skipped", {"missing_field": 2}),
    "negative-numbers.csv": (
        lambda: _rows(
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,-100,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,100,-3,x\n",
        ),
        "skipped",
        {"negative_number": 2},
    ),
    "non-numeric.csv": (
        lambda: _rows(
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,abc,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,15,1.5,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,Infinity,3,x\n",
        ),
        "skipped",
        {"bad_number": 3},
    ),
    "invalid-ips.csv": (
        lambda: _rows(
            "f,10.0.0.256,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,1,3,x\n",
            "f,10.0.0.1,1,not-an-ip,2,6,01/12/2022 10:00:00 AM,1,3,x\n",
            "f,fe80::1::2,1,10.0.0.2,2,6,01/12/2022 10:00:00 AM,1,3,x\n",
        ),
        "skipped",
        {"bad_ip": 3},
    ),
    "unparsable-times.csv": (
        lambda: _rows(
            "f,10.0.0.1,1,10.0.0.2,2,6,32/12/2022 10:00:00 AM,1,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,01/12/2022 25:00:00,1,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,yesterday,1,3,x\n",
            "f,10.0.0.1,1,10.0.0.2,2,6,,1,3,x\n",
        ),
        "skipped",
        {"bad_time": 3, "missing_field": 1},
    ),
}
