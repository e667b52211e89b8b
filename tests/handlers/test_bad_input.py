"""Every kind of the bad-input corpus through the summarize handler: its documented outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import layout
from core.status import FileStatus
from handlers import summarize
from tests.corpus import CORPUS
from tests.handlers.conftest import FakeContext, s3_notification, sqs_event


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_outcome(bucket: Any, name: str) -> None:
    make, outcome, expected = CORPUS[name]
    key = layout.raw_key("corpus", name)
    bucket.put_object(Bucket="data", Key=key, Body=make())
    assert summarize.handler(sqs_event(s3_notification(key)), FakeContext()) == {"batchItemFailures": []}
    status = json.loads(bucket.get_object(Bucket="data", Key=layout.status_key(key))["Body"].read())
    if outcome == "rejected":
        assert status["state"] == "rejected" and str(expected) in status["reason"]
        assert bucket.head_object(Bucket="data", Key=layout.rejected_key(key))["ContentLength"] == len(make())
    else:
        assert status["state"] == "summarized" and status["skipped"] == expected
        assert status["rows_kept"] == (0 if name == "header-only.csv" else 2)
        assert status["rows_read"] == status["rows_kept"] + sum(status["skipped"].values())
    assert "Contents" not in bucket.list_objects_v2(Bucket="data", Prefix=layout.RAW_PREFIX)


def test_the_date_limits_come_from_the_environment(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """EARLIEST_DATE / LATEST_DATE skip implausible rows; MAX_DATES_PER_FILE rejects a file before any write."""
    header = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
    rows = b"".join(f"10.0.0.1,8.8.8.8,{day:02d}/12/2022 10:00:00 AM,1,1\n".encode() for day in (1, 2, 3))
    monkeypatch.setenv("EARLIEST_DATE", "2022-12-02")
    monkeypatch.setenv("LATEST_DATE", "2022-12-31")
    bucket.put_object(Bucket="data", Key="raw/b/window.csv", Body=header + rows)
    assert summarize.handler(sqs_event(s3_notification("raw/b/window.csv")), FakeContext()) == {"batchItemFailures": []}
    status = FileStatus.loads(bucket.get_object(Bucket="data", Key="status/b/window.csv.json")["Body"].read())
    assert status.dates == ["2022-12-02", "2022-12-03"] and status.skipped == {"implausible_date": 1}

    monkeypatch.setenv("MAX_DATES_PER_FILE", "1")
    bucket.put_object(Bucket="data", Key="raw/b/many.csv", Body=header + rows)
    assert summarize.handler(sqs_event(s3_notification("raw/b/many.csv")), FakeContext()) == {"batchItemFailures": []}
    status = FileStatus.loads(bucket.get_object(Bucket="data", Key="status/b/many.csv.json")["Body"].read())
    assert status.state == "rejected" and status.reason.startswith("too many dates")
    summaries = [item["Key"] for item in bucket.list_objects_v2(Bucket="data", Prefix="summaries/")["Contents"]]
    assert not [key for key in summaries if layout.source_id("raw/b/many.csv") in key]


@pytest.mark.parametrize(("name", "value"), [("EARLIEST_DATE", "2022-13-01"), ("MAX_DATES_PER_FILE", "many")])
def test_a_bad_date_limit_fails_the_invocation_naming_it(
    bucket: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        summarize.handler(sqs_event(s3_notification("raw/b/x.csv")), FakeContext())
