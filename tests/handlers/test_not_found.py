"""A 404 S3 answers too early (issue 23: for up to 15 minutes after versioning is enabled) is a retry,
never a silent success; a late or repeated event for a version already summarized or superseded is done."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from core import layout
from core.status import FileStatus
from handlers import summarize
from storage.store import lambda_store
from tests.handlers.conftest import FakeContext, s3_notification, sqs_event

KEY = "raw/paris/log.csv"
LOG = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n"
FAILED = {"batchItemFailures": [{"itemIdentifier": "m0"}]}
DONE: dict[str, Any] = {"batchItemFailures": []}


def not_found_first(monkeypatch: pytest.MonkeyPatch, operation: str, key: str, times: int = 1) -> list[str]:
    """The store's `operation` answers 404 for `key` the first `times` times, as S3 may for an object
    that exists; returns the keys it answered so."""
    client = lambda_store("data").s3
    original = getattr(client, operation)
    answered: list[str] = []

    def wrapper(**params: Any) -> Any:
        if params["Key"] == key and len(answered) < times:
            answered.append(key)
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, operation)
        return original(**params)

    monkeypatch.setattr(client, operation, wrapper)
    return answered


def summarize_event(version: str) -> Any:
    return summarize.handler(sqs_event(s3_notification(KEY, version)), FakeContext())


def status_of(s3: Any) -> FileStatus:
    return FileStatus.loads(s3.get_object(Bucket="data", Key=layout.status_key(KEY))["Body"].read())


def test_a_404_for_the_announced_version_is_retried_then_summarized(
    bucket: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    version = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    answered = not_found_first(monkeypatch, "head_object", KEY)
    with caplog.at_level("WARNING", logger="iot.handlers"):
        assert summarize_event(version) == FAILED
    assert answered == [KEY]
    assert any("404" in r.getMessage() and version in r.getMessage() for r in caplog.records)
    assert bucket.get_object(Bucket="data", Key=KEY)["Body"].read() == LOG  # nothing lost
    assert summarize_event(version) == DONE
    assert status_of(bucket).state == "summarized" and status_of(bucket).version_id == version


def test_a_404_for_a_first_upload_without_a_version_in_the_event_is_retried(
    bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.put_object(Bucket="data", Key=KEY, Body=LOG)
    not_found_first(monkeypatch, "head_object", KEY)
    assert summarize_event("") == FAILED
    assert summarize_event("") == DONE


def test_a_404_for_a_reupload_is_retried_although_an_earlier_version_was_summarized(
    bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    assert summarize_event(first) == DONE
    second = bucket.put_object(Bucket="data", Key=KEY, Body=LOG.replace(b",100,", b",200,"))["VersionId"]
    not_found_first(monkeypatch, "head_object", KEY)
    assert summarize_event(second) == FAILED
    assert summarize_event(second) == DONE
    assert status_of(bucket).version_id == second and status_of(bucket).generation == 2


def test_a_record_that_fails_after_taking_the_lease_gives_it_up(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw object reads as missing after its head was found and the lease taken: the record fails,
    and neither its redelivery nor a re-upload's event waits for the lease to expire."""
    version = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    answered = not_found_first(monkeypatch, "get_object", KEY)
    assert summarize_event(version) == FAILED
    assert answered == [KEY]
    assert status_of(bucket).lease_token == "" and status_of(bucket).lease_until == 0
    assert summarize_event(version) == DONE  # at once: no lease to wait for


def test_a_repeated_event_of_a_summarized_version_is_done(bucket: Any) -> None:
    version = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    assert summarize_event(version) == DONE
    assert "Versions" not in bucket.list_object_versions(Bucket="data", Prefix=KEY)
    assert summarize_event(version) == DONE


def test_a_late_event_of_a_version_superseded_before_it_was_read_is_done(bucket: Any) -> None:
    """Two uploads before either event: the second one's event summarizes the current version and
    deletes both; the first one's event then finds nothing, and the status says why."""
    older = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    newer = bucket.put_object(Bucket="data", Key=KEY, Body=LOG.replace(b",100,", b",200,"))["VersionId"]
    assert summarize_event(newer) == DONE
    assert status_of(bucket).earlier_versions == [older]
    assert summarize_event(older) == DONE
    assert summarize_event("some-version-never-seen") == FAILED


def test_a_status_record_missing_where_the_protocol_says_it_exists_is_retried(
    bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner of a content record has a status record (it claimed under its lease): reading it as
    missing makes the claimant wait and retry, never take the content over."""
    owner = "raw/oslo/log.csv"
    bucket.put_object(Bucket="data", Key=owner, Body=LOG)
    assert summarize.handler(sqs_event(s3_notification(owner)), FakeContext()) == DONE
    version = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    not_found_first(monkeypatch, "get_object", layout.status_key(owner))
    assert summarize_event(version) == FAILED
    assert status_of(bucket).lease_token == ""  # the lease was given up
    assert summarize_event(version) == DONE
    assert status_of(bucket).reason == f"same content as {owner}"


def test_the_status_record_read_as_missing_at_the_commit_is_retried(
    bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = bucket.put_object(Bucket="data", Key=KEY, Body=LOG)["VersionId"]
    status_key = layout.status_key(KEY)
    client = lambda_store("data").s3
    original = client.get_object
    reads: list[str] = []

    def second_status_read_404(**params: Any) -> Any:
        if params["Key"] == status_key:
            reads.append(status_key)
            if len(reads) == 3:  # 1: load_status, 2: the lease (absent), 3: the commit
                raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "Not Found"}}, "GetObject")
        return original(**params)

    monkeypatch.setattr(client, "get_object", second_status_read_404)
    assert summarize_event(version) == FAILED
    assert bucket.get_object(Bucket="data", Key=KEY)["Body"].read() == LOG
    assert status_of(bucket).generation == 0
