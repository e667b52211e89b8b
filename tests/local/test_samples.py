"""The sample generator the demo, the tests and the benchmarks share."""

from __future__ import annotations

import datetime
import io

import pytest

from core.flows import summarize_stream
from core.units import MICROSECONDS
from local.samples import JAVA_HEADER, RATE_COLUMN, device_pairs, write_flows

DAYS = [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)]


@pytest.mark.parametrize("columns", [RATE_COLUMN + 1, 40, len(JAVA_HEADER)])
def test_fewer_columns_keep_every_row_readable(columns: int) -> None:
    body = io.BytesIO()
    write_flows(body, 600, device_pairs(1, 30), DAYS, seed=4, columns=columns)
    lines = body.getvalue().decode("utf-8-sig").splitlines()
    assert lines[0].split(",") == JAVA_HEADER[:columns]
    assert {len(line.split(",")) for line in lines} == {columns}

    body.seek(0)
    summary = summarize_stream(body)
    assert (summary.rows_read, summary.rows_kept) == (600, 600)
    assert summary.unit.unit == MICROSECONDS and "512 of 512" in summary.unit.evidence


def test_the_full_width_is_the_default_and_too_few_columns_are_refused() -> None:
    full, default = io.BytesIO(), io.BytesIO()
    write_flows(full, 50, device_pairs(2, 5), DAYS, seed=1, columns=len(JAVA_HEADER))
    write_flows(default, 50, device_pairs(2, 5), DAYS, seed=1)
    assert full.getvalue() == default.getvalue()
    with pytest.raises(ValueError, match="columns"):
        write_flows(io.BytesIO(), 1, device_pairs(2, 5), DAYS, columns=RATE_COLUMN)
