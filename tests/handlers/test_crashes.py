"""A crash at every step boundary of both handlers, then redelivery: results exact, nothing lost.

botocore's event hooks fail the k-th AWS call an invocation makes (reading, writing a summary or a
state object, sending the consolidate message, deleting the raw object, ...), for every k up to
the number of calls a clean run makes, so no step boundary is left out and no test code lives in
the handlers. Each test builds the world its handler starts from once and tries each k in a forked
copy of it (tests/handlers/conftest.py, in_a_copy).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from core import layout
from core.counts import Counts
from handlers import batch, consolidate, summarize
from local.moto_fixes import apply as atomic_moto_puts
from storage.consolidated import State
from storage.store import lambda_store
from tests.handlers.conftest import FakeContext, at_every_call, in_a_copy, moto_bucket, s3_notification, sqs_event

FILES = {
    "raw/a/one.csv": b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
    b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n10.0.0.1,8.8.8.8,02/12/2022 10:00:00 AM,50,1\n"
    b"10.0.0.2,1.1.1.1,02/12/2022 11:00:00 PM,7,7\n",
    "raw/b/two.csv": b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
    b"10.0.0.1,8.8.8.8,02/12/2022 09:00:00 AM,25,2\n10.0.0.1,8.8.8.8,03/12/2022 10:00:00 AM,40,4\n",
}
# Days of 10.0.0.1 -> 8.8.8.8: 100, 50 + 25 (two files), 40 µs; packets 3, 1 + 2, 4.
EXPECTED = [
    "10.0.0.1,8.8.8.8,3,71.66666666666667,30.13856886670854,3.3333333333333335,0.5773502691896257",
    "10.0.0.2,1.1.1.1,1,7.0,0.0,7.0,0.0",
]


EXPORTED = {"2022-12-01": Counts(100, 3, 1), "2022-12-02": Counts(75, 3, 2), "2022-12-03": Counts(40, 4, 1)}


def exported() -> dict[str, Counts] | None:
    """What `clients.export 10.0.0.1 8.8.8.8` reads: the shard's tables and its pending deltas."""
    return State(lambda_store("data")).pair_days("10.0.0.1", "8.8.8.8")


class Crash(BaseException):
    """The process dies at this call: nothing in the handler runs after it (not even its own retry)."""


class Injector:
    """Counts the AWS calls of the handlers' clients and fails the k-th one: a crash, or `error`."""

    def __init__(self, error: Callable[[str], BaseException] = Crash) -> None:
        self.error = error
        self.calls = 0
        self.fail_at = 0
        self.failed: str | None = None
        store = lambda_store("data")
        for client in (store.s3, store.sqs):
            client.meta.events.register("before-call.*.*", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            self.failed = model.name
            raise self.error(f"injected failure at call {self.calls} ({model.name})")

    def run(self, fail_at: int, action: Callable[[], Any]) -> Any:
        self.calls, self.fail_at, self.failed = 0, fail_at, None
        try:
            return action()
        except Crash:
            return "crashed"
        finally:
            self.fail_at = 0


@contextlib.contextmanager
def fresh_world(
    monkeypatch: pytest.MonkeyPatch, error: Callable[[str], BaseException] = Crash
) -> Iterator[tuple[Any, str, Injector]]:
    with moto_bucket(monkeypatch) as s3:
        for key, body in FILES.items():
            s3.put_object(Bucket="data", Key=key, Body=body)
        yield s3, os.environ["CONSOLIDATE_QUEUE_URL"], Injector(error)


def drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def stats(s3: Any) -> list[str]:
    return s3.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode().splitlines()[1:]


def raw_safe(s3: Any) -> None:
    """A raw object is gone only if its summary and status exist."""
    for key in FILES:
        if "Contents" not in s3.list_objects_v2(Bucket="data", Prefix=key):
            status = json.loads(s3.get_object(Bucket="data", Key=layout.status_key(key))["Body"].read())
            assert status["state"] in ("summarized", "consolidated")
            for date in status["dates"]:
                s3.head_object(Bucket="data", Key=layout.summary_key(date, status["source"]))


def summarize_all() -> dict[str, Any]:
    return summarize.handler(sqs_event(*(s3_notification(k) for k in FILES)), FakeContext())


TICK = {"tick": 0}
"""The delayed message the consolidator schedules: folds every shard and rebuilds traffic_stats.csv."""


def consolidate_all(messages: list[dict[str, Any]]) -> Any:
    """The files' messages and a tick in one batch (the tick runs after the files are applied)."""
    return consolidate.handler(sqs_event(*messages, TICK), FakeContext())


def test_crash_at_every_call_of_summarize_then_redelivery(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    atomic_moto_puts()
    with fresh_world(monkeypatch) as (s3, url, injector):

        def crash_then_redeliver(fail_at: int) -> str | None:
            first = injector.run(fail_at, summarize_all)
            if injector.failed is None:
                return None
            assert first == "crashed" or first["batchItemFailures"], fail_at
            raw_safe(s3)
            # Redelivery comes after the visibility timeout, when the crashed invocation's lease has expired.
            later = summarize.time.time() + 3600
            monkeypatch.setattr(summarize.time, "time", lambda: later)
            assert summarize_all() == {"batchItemFailures": []}, fail_at
            raw_safe(s3)
            assert consolidate_all(drain(url)) == {"batchItemFailures": []}, fail_at
            assert stats(s3) == EXPECTED, (fail_at, injector.failed)
            assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix="raw/"), fail_at
            return injector.failed

        injected = at_every_call(crash_then_redeliver)
    assert {"HeadObject", "GetObject", "PutObject", "SendMessage", "ListObjectVersions", "DeleteObject"} <= set(
        injected
    )


def test_crash_at_every_call_of_consolidate_then_redelivery(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    atomic_moto_puts()
    with fresh_world(monkeypatch) as (s3, url, injector):
        summarize_all()
        messages = drain(url)

        def crash_then_redeliver(fail_at: int) -> str | None:
            injector.run(fail_at, lambda: consolidate_all(messages))
            if injector.failed is None:
                return None
            assert consolidate_all(messages) == {"batchItemFailures": []}, fail_at
            assert consolidate_all(messages + messages) == {"batchItemFailures": []}, fail_at
            assert stats(s3) == EXPECTED, (fail_at, injector.failed)
            assert exported() == EXPORTED, (fail_at, injector.failed)
            assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix=layout.PENDING_PREFIX), fail_at
            states = [
                json.loads(s3.get_object(Bucket="data", Key=layout.status_key(k))["Body"].read())["state"]
                for k in FILES
            ]
            assert states == ["consolidated", "consolidated"], fail_at
            return injector.failed

        injected = at_every_call(crash_then_redeliver)
    assert {"GetObject", "PutObject", "HeadObject", "ListObjectsV2", "DeleteObjects", "SendMessage"} <= set(injected)


def network_error(message: str) -> BaseException:
    return EndpointConnectionError(endpoint_url=message)


def access_denied(message: str) -> BaseException:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "AnyCall")


def no_wait(seconds: float) -> None:
    """The retry's jittered pause (0.05-0.25 s), which these tests would pay once per call they fail at."""
    assert 0 <= seconds < 1


def test_a_transient_failure_at_any_call_of_summarize_is_retried_within_the_invocation(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The retry keeps the invocation's lease token: its own lease never makes it Busy."""
    atomic_moto_puts()
    monkeypatch.setattr(batch.time, "sleep", no_wait)
    with fresh_world(monkeypatch, network_error) as (s3, url, injector):

        def fail_once(fail_at: int) -> str | None:
            assert injector.run(fail_at, summarize_all) == {"batchItemFailures": []}, fail_at
            if injector.failed is None:
                return None
            assert [r for r in caplog.records if "trying again" in r.getMessage()], fail_at
            raw_safe(s3)
            assert consolidate_all(drain(url)) == {"batchItemFailures": []}, fail_at
            assert stats(s3) == EXPECTED, (fail_at, injector.failed)
            assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix="raw/"), fail_at
            return injector.failed

        failed = at_every_call(fail_once)
    assert {"HeadObject", "GetObject", "PutObject", "SendMessage", "ListObjectVersions", "DeleteObject"} <= set(failed)


def test_a_transient_failure_at_any_call_of_consolidate_is_retried_within_the_invocation(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A network error botocore's retries did not absorb costs a retry in the same invocation, not a
    wait for the visibility timeout (6x the function timeout) and a redelivery."""
    atomic_moto_puts()
    monkeypatch.setattr(batch.time, "sleep", no_wait)
    with fresh_world(monkeypatch, network_error) as (s3, url, injector):
        summarize_all()
        messages = drain(url)

        def fail_once(fail_at: int) -> str | None:
            assert injector.run(fail_at, lambda: consolidate_all(messages)) == {"batchItemFailures": []}, fail_at
            if injector.failed is None:
                return None
            assert [r for r in caplog.records if "trying again" in r.getMessage()], fail_at
            assert stats(s3) == EXPECTED, (fail_at, injector.failed)
            assert exported() == EXPORTED, (fail_at, injector.failed)
            return injector.failed

        failed = at_every_call(fail_once)
    assert {"GetObject", "PutObject"} <= set(failed)


@pytest.mark.parametrize(
    ("error", "remaining_ms"), [(access_denied, 60_000), (network_error, 5_000)], ids=["refusal", "no time left"]
)
def test_a_refusal_or_a_failure_without_time_to_retry_fails_the_batch_at_once(
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Callable[[str], BaseException],
    remaining_ms: int,
) -> None:
    atomic_moto_puts()
    context = FakeContext()
    monkeypatch.setattr(context, "get_remaining_time_in_millis", lambda: remaining_ms)
    with fresh_world(monkeypatch, error) as (s3, url, injector):
        summarize_all()
        messages = drain(url)
        first = injector.run(3, lambda: consolidate.handler(sqs_event(*messages, TICK), context))
        assert first["batchItemFailures"] and injector.failed
        assert not [record for record in caplog.records if "trying again" in record.getMessage()]
        assert consolidate_all(messages) == {"batchItemFailures": []}  # the redelivery
        assert stats(s3) == EXPECTED


def test_conditional_write_conflicts_are_retried_like_lost_races(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 may answer 409 ConditionalRequestConflict (moto never does): the handlers re-read and retry."""
    atomic_moto_puts()
    with fresh_world(monkeypatch) as (s3, url, _):
        conflicts = []

        def conflict_once_per_key(params: dict[str, Any], **_: Any) -> None:
            key = params["Key"]
            if (
                key.startswith(layout.CONSOLIDATED_PREFIX)
                and key not in conflicts
                and ("IfMatch" in params or "IfNoneMatch" in params)
            ):
                conflicts.append(key)
                raise ClientError({"Error": {"Code": "ConditionalRequestConflict", "Message": "retry"}}, "PutObject")

        lambda_store("data").s3.meta.events.register("before-parameter-build.s3.PutObject", conflict_once_per_key)
        summarize_all()
        assert consolidate_all(drain(url)) == {"batchItemFailures": []}
        assert layout.TICK_KEY in conflicts and any(k.startswith(layout.SHARDS_PREFIX) for k in conflicts)
        assert stats(s3) == EXPECTED


def test_a_copy_that_fails_or_dies_fails_the_test() -> None:
    """What the crash tests rely on: in_a_copy reports the copy's assertion, or its death, as a failure."""

    def broken() -> str:
        raise AssertionError("the copy's own assertion")

    def dying() -> str:
        os._exit(3)

    assert in_a_copy(lambda: "fine") == "fine"
    with pytest.raises(pytest.fail.Exception, match="the copy's own assertion"):
        in_a_copy(broken)
    with pytest.raises(pytest.fail.Exception, match="status"):
        in_a_copy(dying)
