"""Handler test helpers: event factories, a fake Lambda context, and a bucket on moto in-process."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from local.deploy import deploy, role_policies
from local.faults import call_record
from storage.store import lambda_store
from tests.conftest import moto_world
from tests.iam import denied


class FakeContext:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": json.dumps(b)} for n, b in enumerate(bodies)
        ]
    }


def s3_notification(key: str, version_id: str = "") -> dict[str, Any]:
    """An S3 event; in a versioned bucket S3 names the version created (`versionId`)."""
    announced = {"versionId": version_id} if version_id else {}
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": quote_plus(key), **announced}}}]}


IN_PROCESS_CALLS: list[dict[str, Any]] = []
"""The AWS calls the handlers made in the running test, with the function that made it."""
CONSOLIDATE_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:consolidate"


@functools.cache
def role_policies_here() -> dict[str, Any]:
    """The role policies the Pulumi program declares for the functions, for the bucket "data" and the
    consolidate queue of these tests (the program deployed in-process once per worker)."""
    with mock_aws():
        deployment = deploy(boto3.client("s3", "us-east-1"), boto3.client("sqs", "us-east-1"), "us-east-1")
    text = json.dumps(role_policies(deployment))
    text = text.replace(deployment.outputs["bucket_name"], "data")
    consolidate_arn = next(
        arn for arn, url in deployment.queues.items() if url == deployment.outputs["consolidate_queue_url"]
    )
    text = text.replace(consolidate_arn, CONSOLIDATE_QUEUE_ARN)
    return {name.rsplit("-", 1)[0]: policy for name, policy in json.loads(text).items()}


def denied_here(calls: list[dict[str, Any]]) -> list[str]:
    """The calls IAM would refuse the functions' roles (moto enforces none)."""
    queues = {call["QueueUrl"]: CONSOLIDATE_QUEUE_ARN for call in calls if "QueueUrl" in call}
    return denied(calls, role_policies_here(), queues)


@pytest.fixture(autouse=True)
def every_call_allowed_by_its_role() -> Iterator[None]:
    """After each handler test, every AWS call the handlers made in it is checked against the role
    policy of the function that made it, as IAM would (tests/iam.py)."""
    IN_PROCESS_CALLS.clear()
    yield
    calls, IN_PROCESS_CALLS[:] = list(IN_PROCESS_CALLS), []
    assert denied_here(calls) == []


def _calling_function() -> str:
    frame = sys._getframe()
    while frame is not None:
        name = Path(frame.f_code.co_filename)
        if name.parent.name == "handlers" and name.stem in ("summarize", "consolidate"):
            return name.stem
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def _record(model: Any, params: dict[str, Any], **_: Any) -> None:
    function = _calling_function()
    if function:
        IN_PROCESS_CALLS.append(call_record(function, model.name, params))


@contextlib.contextmanager
def moto_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A versioned bucket "data" and a consolidate queue on moto in-process, with the handlers'
    environment and their cached clients pointing there."""
    role_policies_here()  # built here, in its own moto world, not once in every forked copy (in_a_copy)
    with moto_world():
        lambda_store.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="data")
        s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        url = boto3.client("sqs").create_queue(QueueName="consolidate")["QueueUrl"]
        monkeypatch.setenv("BUCKET_NAME", "data")
        monkeypatch.setenv("CONSOLIDATE_QUEUE_URL", url)
        store = lambda_store("data")
        for client in (store.s3, store.sqs):
            client.meta.events.register("before-parameter-build.*.*", _record)
        try:
            yield s3
        finally:
            lambda_store.cache_clear()


@pytest.fixture
def bucket(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_bucket(monkeypatch) as s3:
        yield s3


def in_a_copy(attempt: Callable[[], str | None]) -> str | None:
    """`attempt()` in a forked copy of this process, moto's world included (copy-on-write): what it returned,
    or the test fails with its traceback. The tests that crash the handlers at every call build the world
    their handler starts from once, then try each crash point in a copy of it, instead of building it
    again for each. The copy's AWS calls are checked against the functions' roles there, as the autouse
    fixture checks the test's own. The copy runs only this test's code, in the thread that forked, and
    leaves with os._exit: it never returns into pytest and takes no lock of the xdist worker's other
    threads, which is the deadlock Python 3.12+ warns of when a process with threads forks."""
    read, write = os.pipe()
    gc.freeze()  # the copy's collections skip the objects it shares with this process, so copy no pages of them
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except BaseException:
        gc.unfreeze()
        raise
    if pid == 0:
        os.close(read)
        status = 1
        try:
            calls_before = len(IN_PROCESS_CALLS)
            report: dict[str, Any] = {"returned": attempt()}
            assert denied_here(IN_PROCESS_CALLS[calls_before:]) == []
            status = 0
        except BaseException:
            report = {"error": traceback.format_exc()}
        finally:
            with os.fdopen(write, "w") as pipe:
                json.dump(report, pipe)
            os._exit(status)
    gc.unfreeze()
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    report = json.loads(text) if text else {"error": f"the copy died with status {status}"}
    if "error" in report or status != 0:
        pytest.fail(f"in the forked copy:\n{report.get('error', f'exit status {status}')}", pytrace=False)
    returned: str | None = report["returned"]
    return returned


def at_every_call(attempt: Callable[[int], str | None]) -> list[str]:
    """`attempt(k)` for k = 1, 2, ..., each in a forked copy (in_a_copy), until a copy finds that a clean
    run makes no k-th call (it returns None): the names of the calls failed, one per k."""
    failed: list[str] = []
    while (call := in_a_copy(functools.partial(attempt, len(failed) + 1))) is not None:
        failed.append(call)
    return failed
