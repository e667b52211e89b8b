"""The race of issue 12, deterministically, at handler level: a re-upload's status commit is held while a
consolidation of the previous generation runs; a third upload with other pairs follows. The end state
holds exactly the last upload, and summaries/ holds only its objects."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core import layout
from handlers import consolidate, summarize
from local.moto_fixes import apply as atomic_moto_puts
from storage.store import lambda_store
from tests.handlers.conftest import FakeContext, s3_notification, sqs_event
from tests.handlers.test_crashes import drain

HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
KEY = "raw/a/log.csv"
VERSIONS = [
    HEADER + b"10.1.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,1\n",
    HEADER + b"10.2.0.1,8.8.8.8,02/12/2022 10:00:00 AM,200,2\n10.2.0.2,1.1.1.1,03/12/2022 10:00:00 AM,5,5\n",
    HEADER + b"10.3.0.1,9.9.9.9,04/12/2022 10:00:00 AM,300,3\n",
]


def test_a_held_commit_leaves_no_phantom_rows(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    atomic_moto_puts()
    url = summarize.summarize_settings().consolidate_queue_url
    store = lambda_store("data")

    bucket.put_object(Bucket="data", Key=KEY, Body=VERSIONS[0])
    assert summarize.handler(sqs_event(s3_notification(KEY)), FakeContext()) == {"batchItemFailures": []}
    first_messages = drain(url)

    held, release = threading.Event(), threading.Event()

    def hold_commit(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == layout.status_key(KEY) and b'"generation": 2' in params["Body"] and not held.is_set():
            held.set()
            assert release.wait(30)

    store.s3.meta.events.register("before-parameter-build.s3.PutObject", hold_commit)
    bucket.put_object(Bucket="data", Key=KEY, Body=VERSIONS[1])
    second = threading.Thread(target=summarize.handler, args=(sqs_event(s3_notification(KEY)), FakeContext()))
    second.start()
    assert held.wait(30)
    # v2 is summarized, its commit not made: a consolidation of v1 (and a duplicate of it) runs now.
    assert consolidate.handler(sqs_event(*first_messages, *first_messages), FakeContext()) == {"batchItemFailures": []}
    release.set()
    second.join(30)
    assert consolidate.handler(sqs_event(*drain(url)), FakeContext()) == {"batchItemFailures": []}

    bucket.put_object(Bucket="data", Key=KEY, Body=VERSIONS[2])
    assert summarize.handler(sqs_event(s3_notification(KEY)), FakeContext()) == {"batchItemFailures": []}
    assert consolidate.handler(sqs_event(*drain(url)), FakeContext()) == {"batchItemFailures": []}
    assert consolidate.handler(sqs_event({"tick": 0}), FakeContext()) == {"batchItemFailures": []}

    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode().splitlines()
    assert stats[1:] == ["10.3.0.1,9.9.9.9,1,300.0,0.0,3.0,0.0"]
    summaries = [item["Key"] for item in bucket.list_objects_v2(Bucket="data", Prefix="summaries/")["Contents"]]
    assert summaries == [layout.summary_key("2022-12-04", layout.source_id(KEY))]
