"""Every kind of the bad-input corpus through the summarize handler: its documented outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import layout
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
