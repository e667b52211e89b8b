"""Content identity: the same bytes count once, whatever the name, branch or compression (issue 25)."""

from __future__ import annotations

import gzip
import threading
from typing import Any

import pytest

from core import layout
from core.status import FileStatus
from handlers import consolidate, summarize
from local.moto_fixes import apply as atomic_moto_puts
from storage.store import lambda_store
from tests.handlers.conftest import FakeContext, s3_notification, sqs_event
from tests.handlers.test_crashes import TICK, drain, stats

HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
LOG = HEADER + b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,4500000,3\n10.0.0.1,8.8.8.8,02/12/2022 10:00:00 AM,4500000,5\n"
OTHER = HEADER + b"10.0.0.2,8.8.8.8,03/12/2022 10:00:00 AM,1000000,1\n"
OWNER = "raw/paris/log.csv"
ONCE = ["10.0.0.1,8.8.8.8,2,4500000.0,0.0,4.0,1.4142135623730951"]


def upload(s3: Any, key: str, body: bytes) -> list[dict[str, str]]:
    """Put, summarize and consolidate one file; the summarize response's failures."""
    version = s3.put_object(Bucket="data", Key=key, Body=body)["VersionId"]
    failures = summarize.handler(sqs_event(s3_notification(key, version)), FakeContext())["batchItemFailures"]
    url = summarize.summarize_settings().consolidate_queue_url
    # The files' messages and the tick the consolidator would deliver after its delay.
    assert consolidate.handler(sqs_event(*drain(url), TICK), FakeContext()) == {"batchItemFailures": []}
    return failures


def status_of(s3: Any, key: str) -> FileStatus:
    return FileStatus.loads(s3.get_object(Bucket="data", Key=layout.status_key(key))["Body"].read())


def test_the_same_content_under_another_name_branch_or_gzip_is_rejected_and_counted_nowhere(bucket: Any) -> None:
    assert upload(bucket, OWNER, LOG) == []
    assert stats(bucket) == ONCE
    copies = {"raw/paris/renamed.csv": LOG, "raw/oslo/log.csv": LOG, "raw/rome/log.csv.gz": gzip.compress(LOG)}
    for key, body in copies.items():
        assert upload(bucket, key, body) == []
        status = status_of(bucket, key)
        assert (status.state, status.reason, status.duplicate_of) == ("rejected", f"same content as {OWNER}", OWNER)
        assert status.dates == [] and status.digest == ""
        assert bucket.get_object(Bucket="data", Key=layout.rejected_key(key))["Body"].read() == body
    assert stats(bucket) == ONCE
    assert "Contents" not in bucket.list_objects_v2(Bucket="data", Prefix=layout.RAW_PREFIX)
    owner = status_of(bucket, OWNER)
    assert owner.state == "consolidated" and owner.holds(owner.digest)


def test_a_reupload_of_the_same_name_and_bytes_replaces_itself(bucket: Any) -> None:
    assert upload(bucket, OWNER, LOG) == []
    assert upload(bucket, OWNER, LOG) == []
    status = status_of(bucket, OWNER)
    assert (status.state, status.generation) == ("consolidated", 2)
    assert stats(bucket) == ONCE


@pytest.mark.parametrize("new_body", [OTHER, b"a;b;c\n1;2;3\n"], ids=["new bytes", "rejected"])
def test_a_content_its_owner_no_longer_has_counts_again(bucket: Any, new_body: bytes) -> None:
    assert upload(bucket, OWNER, LOG) == []
    digest = status_of(bucket, OWNER).digest
    assert upload(bucket, OWNER, new_body) == []
    record = bucket.get_object(Bucket="data", Key=layout.content_key(digest))["Body"].read()
    assert b'"owner": ""' in record  # released
    assert upload(bucket, "raw/oslo/copy.csv", LOG) == []
    assert status_of(bucket, "raw/oslo/copy.csv").state == "consolidated"
    assert ONCE[0] in stats(bucket)


def test_a_stale_record_whose_owner_moved_on_is_taken_over(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release lost to a crash: the owner's status no longer has the content, so a claimant takes it."""
    assert upload(bucket, OWNER, LOG) == []
    monkeypatch.setattr(summarize, "release_content", lambda *_: None)
    assert upload(bucket, OWNER, OTHER) == []
    assert upload(bucket, "raw/oslo/copy.csv", LOG) == []
    assert status_of(bucket, "raw/oslo/copy.csv").state == "consolidated"


def test_two_concurrent_uploads_of_the_same_bytes_count_once(bucket: Any) -> None:
    """Both invocations have read the bytes and reach the content record together; then every failed
    record is delivered again, as SQS would, until none fails."""
    atomic_moto_puts()
    store = lambda_store("data")
    keys = ["raw/paris/a.csv", "raw/oslo/b.csv"]
    versions = {key: bucket.put_object(Bucket="data", Key=key, Body=LOG)["VersionId"] for key in keys}
    together = threading.Barrier(2, timeout=30)

    met: set[int] = set()

    def meet(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith(layout.CONTENT_PREFIX) and threading.get_ident() not in met:
            met.add(threading.get_ident())
            together.wait()

    store.s3.meta.events.register("before-parameter-build.s3.GetObject", meet)
    responses: dict[str, Any] = {}

    def run(key: str) -> None:
        responses[key] = summarize.handler(sqs_event(s3_notification(key, versions[key])), FakeContext())

    threads = [threading.Thread(target=run, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    store.s3.meta.events.unregister("before-parameter-build.s3.GetObject", meet)
    assert not together.broken
    retried = [key for key in keys if responses[key]["batchItemFailures"]]
    assert len(retried) <= 1  # the one that found the other mid-commit waits for it
    for key in retried:
        assert summarize.handler(sqs_event(s3_notification(key, versions[key])), FakeContext()) == {
            "batchItemFailures": []
        }
    url = summarize.summarize_settings().consolidate_queue_url
    # The files' messages and the tick the consolidator would deliver after its delay.
    assert consolidate.handler(sqs_event(*drain(url), TICK), FakeContext()) == {"batchItemFailures": []}
    states = sorted(status_of(bucket, key).state for key in keys)
    assert states == ["consolidated", "rejected"]
    assert stats(bucket) == ONCE
