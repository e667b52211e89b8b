"""The local stack's fixes to moto's S3 (local.moto_fixes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from local.moto_fixes import apply

BUCKET = "fixes"


@pytest.fixture
def s3() -> Iterator[Any]:
    apply()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_listing_versions_copies_only_the_keys_under_its_prefix(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = [s3.put_object(Bucket=BUCKET, Key="raw/a.csv", Body=f"v{n}".encode())["VersionId"] for n in range(3)]
    for _ in range(2):
        s3.put_object(Bucket=BUCKET, Key="consolidated/state.json", Body=bytes(1 << 20))
    s3.put_object(Bucket=BUCKET, Key="raw/a.csv.gz", Body=b"other")

    copied: list[str] = []
    original = FakeKey.__getstate__

    def counted(self: FakeKey) -> dict[str, Any]:
        copied.append(self.name)
        return original(self)

    monkeypatch.setattr(FakeKey, "__getstate__", counted)
    tracked = list(FakeKey.instances_tracked)  # type: ignore[attr-defined]
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix="raw/a.csv")
    assert sorted(copied) == ["raw/a.csv"] * 3 + ["raw/a.csv.gz"]  # moto copied all 6 versions, 2 MB of them
    assert FakeKey.instances_tracked == tracked  # type: ignore[attr-defined]  # moto kept its copies forever

    versions = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listing["Versions"]]
    assert versions == [
        ("raw/a.csv", uploads[2], True),
        ("raw/a.csv", uploads[1], False),
        ("raw/a.csv", uploads[0], False),
        ("raw/a.csv.gz", versions[3][1], True),
    ]
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=BUCKET, Prefix="raw/", PaginationConfig={"PageSize": 1}
    )
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for page in pages for v in page.get("Versions", [])] == versions
    everything = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert len(everything) == 6 and FakeKey.__getstate__ is counted  # no prefix: every key, as before
    assert FakeKey.instances_tracked == tracked  # type: ignore[attr-defined]
    assert s3.get_object(Bucket=BUCKET, Key="raw/a.csv", VersionId=uploads[0])["Body"].read() == b"v0"


def test_a_key_deleted_while_versions_are_listed_is_left_out(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("raw/kept.csv", "raw/gone.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    original = _VersionedKeyStore.getlist

    def racing(self: _VersionedKeyStore, key: str, default: Any = None) -> Any:
        return None if key == "raw/gone.csv" else original(self, key, default)  # deleted after the snapshot

    monkeypatch.setattr(_VersionedKeyStore, "getlist", racing)
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix="raw/")  # moto alone: a 500, TypeError
    assert [v["Key"] for v in listing["Versions"]] == ["raw/kept.csv"]


def test_the_server_finds_a_hosts_service_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    apply()
    listings = []
    original = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listings.append(1) or original())
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = ["s3.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "s3.eu-west-3.amazonaws.com"]
    for _ in range(3):
        assert [dispatcher.get_backend_for_host(host) for host in hosts] == ["s3", "sqs", "s3"]
    assert len(listings) <= len(hosts)
