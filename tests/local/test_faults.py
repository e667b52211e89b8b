"""The functions' injected faults (local.faults), on a real botocore client against moto in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.faults import Faults, install
from local.stack import NOT_FOUND_PREFIXES

BUCKET = "faults"


@pytest.fixture
def bucket(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3


def function_client(faults: Faults) -> Any:
    """An S3 client of an execution environment: its session carries the fault hooks, as local.runner does."""
    session = boto3.Session()
    install(faults, "summarize", session._session.get_component("event_emitter"))
    return session.client("s3")


def not_found(faults: Faults, counters: Path) -> Faults:
    faults.not_found_prefixes = list(NOT_FOUND_PREFIXES)
    faults.counters = str(counters)
    return faults


def answers(call: Any) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "found"


def test_the_first_n_reads_of_each_object_are_404_then_it_is_found(bucket: Any, tmp_path: Path) -> None:
    keys = ["raw/paris/a.csv", "status/raw/paris/a.csv.json", "summaries/dt=2024-05-01/x.csv", "consolidated/y.csv"]
    for key in keys:
        bucket.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    s3 = function_client(not_found(Faults(not_found_reads=2), tmp_path))
    for key in keys[:3]:
        head = answers(lambda key=key: s3.head_object(Bucket=BUCKET, Key=key))
        get = answers(lambda key=key: s3.get_object(Bucket=BUCKET, Key=key))
        assert (head, get) == ("404", "NoSuchKey"), key  # what S3 answers: HEAD has no body, GET says NoSuchKey
        assert answers(lambda key=key: s3.get_object(Bucket=BUCKET, Key=key)) == "found"
        assert answers(lambda key=key: s3.head_object(Bucket=BUCKET, Key=key)) == "found"
    assert answers(lambda: s3.get_object(Bucket=BUCKET, Key=keys[3])) == "found"  # not a raw, status or summary


def test_a_404_is_the_exception_botocore_raises_for_a_missing_key(bucket: Any, tmp_path: Path) -> None:
    bucket.put_object(Bucket=BUCKET, Key="raw/a.csv", Body=b"x")
    s3 = function_client(not_found(Faults(not_found_reads=1), tmp_path))
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="raw/a.csv")
    assert s3.get_object(Bucket=BUCKET, Key="raw/a.csv")["Body"].read() == b"x"


def test_each_version_read_by_id_is_counted_on_its_own(bucket: Any, tmp_path: Path) -> None:
    first = bucket.put_object(Bucket=BUCKET, Key="raw/a.csv", Body=b"1")["VersionId"]
    second = bucket.put_object(Bucket=BUCKET, Key="raw/a.csv", Body=b"2")["VersionId"]
    s3 = function_client(not_found(Faults(not_found_reads=1), tmp_path))
    for version in (first, second):
        assert answers(lambda v=version: s3.get_object(Bucket=BUCKET, Key="raw/a.csv", VersionId=v)) == "NoSuchKey"
        assert s3.get_object(Bucket=BUCKET, Key="raw/a.csv", VersionId=version)["VersionId"] == version


def test_the_count_is_shared_by_every_execution_environment(bucket: Any, tmp_path: Path) -> None:
    bucket.put_object(Bucket=BUCKET, Key="status/a.json", Body=b"{}")
    faults = not_found(Faults(not_found_reads=3), tmp_path)
    environments = [function_client(faults) for _ in range(3)]
    read = [answers(lambda s3=s3: s3.get_object(Bucket=BUCKET, Key="status/a.json")) for s3 in environments]
    read += [answers(lambda s3=s3: s3.get_object(Bucket=BUCKET, Key="status/a.json")) for s3 in environments]
    assert read == ["NoSuchKey"] * 3 + ["found"] * 3


def test_the_spec_survives_the_trip_to_the_environment() -> None:
    faults = Faults(not_found_reads=2, not_found_prefixes=["raw/"], counters="/tmp/x")
    assert Faults.loads(faults.dumps()) == faults
    assert faults.active and faults.counted
