"""The summarize handler reads a large object in byte ranges on several processes (ranged GETs of
the claimed version) and publishes exactly what one process would."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest

from core import layout, ranges
from core.flows import summarize_stream
from core.summary import read_summary
from handlers import summarize
from handlers.config import summarize_settings
from local.samples import device_pairs, write_flows
from storage.store import lambda_store


class BigContext:
    memory_limit_in_mb = 10_240

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_memory_buys_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summarize, "usable_cores", lambda: 8)
    assert summarize.jobs_for(BigContext()) == 6
    assert summarize.jobs_for(object()) == 1
    BigContext.memory_limit_in_mb = 512
    try:
        assert summarize.jobs_for(BigContext()) == 1
    finally:
        BigContext.memory_limit_in_mb = 10_240


def test_a_large_object_is_read_in_ranges_with_the_single_process_result(
    bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = io.BytesIO()
    days = [datetime.date(2024, 3, 1), datetime.date(2024, 3, 2)]
    write_flows(body, 6000, device_pairs(2, 300), days, seed=5)
    data = body.getvalue()
    key = layout.raw_key("big", "flows.csv")
    bucket.put_object(Bucket="data", Key=key, Body=data)
    monkeypatch.setattr(ranges, "MIN_BYTES_PER_JOB", len(data) // 8)
    merged: list[bool] = []
    run_plan = ranges.run_plan

    def watched(*args: Any) -> Any:
        result = run_plan(*args)
        merged.append(result is not None)  # True: the ranges were merged, not read again by one process
        return result

    monkeypatch.setattr(ranges, "run_plan", watched)

    status = summarize.summarize_object(lambda_store("data"), summarize_settings(), key, 60, jobs=4)

    assert merged == [True]
    expected = summarize_stream(io.BytesIO(data))
    assert status is not None and status.rows_kept == expected.rows_kept == 6000
    for date in expected.table.dates():
        published = bucket.get_object(Bucket="data", Key=layout.summary_key(date, status.source))["Body"].read()
        day_totals = {key: counts for key, counts in expected.totals.items() if key.date == date}
        assert read_summary(published.decode().splitlines()) == day_totals
