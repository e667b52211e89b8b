"""Handlers against moto in-process: happy path, s3:TestEvent, encoded keys, partial batch failure."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from core import layout
from core.consolidated import pair_name, shard_of
from core.counts import Counts
from core.status import FileStatus
from handlers import consolidate, summarize
from storage import consolidated
from storage.consolidated import State
from storage.store import lambda_store
from tests.handlers.conftest import FakeContext, denied_here, s3_notification, sqs_event

GOOD = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n"


def consolidate_messages() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="consolidate")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def tick() -> None:
    """The delayed tick the consolidator scheduled, delivered now: fold every shard, write traffic_stats.csv."""
    assert consolidate.handler(sqs_event({"tick": 0}), FakeContext()) == {"batchItemFailures": []}


def status_of(s3: Any, key: str) -> FileStatus:
    return FileStatus.loads(s3.get_object(Bucket="data", Key=layout.status_key(key))["Body"].read())


def test_summarize_then_consolidate_happy_path_with_an_encoded_key(bucket: Any) -> None:
    key = "raw/paris branch/day 1+2.csv"
    bucket.put_object(Bucket="data", Key=key, Body=GOOD)
    response = summarize.handler(sqs_event(s3_notification(key)), FakeContext())
    assert response == {"batchItemFailures": []}
    assert "Contents" not in bucket.list_objects_v2(Bucket="data", Prefix="raw/")
    assert status_of(bucket, key).state == "summarized"
    messages = consolidate_messages()
    assert messages == [{"key": key}]
    assert consolidate.handler(sqs_event(*messages), FakeContext()) == {"batchItemFailures": []}
    tick()
    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    assert stats.splitlines()[1] == "10.0.0.1,8.8.8.8,1,100.0,0.0,3.0,0.0"
    assert status_of(bucket, key).state == "consolidated"


def test_a_deferred_tick_schedules_the_next_which_rebuilds_once_files_stop(bucket: Any, monkeypatch: Any) -> None:
    """While what traffic_stats.csv lacks is small beside the stats tables the tick defers, and tells the
    next tick what it found; that one, finding nothing new (the files stopped), rebuilds."""
    monkeypatch.setattr(consolidated, "SMALL_TABLES", 0)  # this state is small: defer as if it were not
    monkeypatch.setenv("STATS_REBUILD_SECONDS", "0")  # the ticks' messages are visible at once

    def deliver(*messages: dict[str, Any]) -> None:
        assert consolidate.handler(sqs_event(*messages), FakeContext()) == {"batchItemFailures": []}

    others = b"".join(b"10.0.0.%d,8.8.8.8,01/12/2022 10:00:00 AM,5,1\n" % n for n in range(2, 6))
    outcomes = []
    for n, body in enumerate((GOOD + others, GOOD.replace(b",100,3", b",40,3"))):  # 5 pairs, then a change of 1
        key = f"raw/b/{n}.csv"
        bucket.put_object(Bucket="data", Key=key, Body=body)
        assert summarize.handler(sqs_event(s3_notification(key)), FakeContext()) == {"batchItemFailures": []}
        deliver(*consolidate_messages())
        while ticks := consolidate_messages():
            outcomes.append(sorted(ticks[0]))
            deliver(*ticks)
    # the first tick rebuilt (no traffic_stats.csv yet); the second file's deferred, the next rebuilt
    assert outcomes == [["tick"], ["tick"], ["seen", "tick"]]
    assert State(lambda_store("data")).traffic_stats_current()
    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    assert stats.splitlines()[1] == "10.0.0.1,8.8.8.8,1,140.0,0.0,6.0,0.0"


def test_a_failed_tick_schedules_the_next_so_traffic_stats_converge_without_another_file(
    bucket: Any, monkeypatch: Any
) -> None:
    """A tick clears the schedule, then fails (here: the first listing of pending objects is refused):
    its message is retried, and a new tick is scheduled, so that traffic_stats.csv is rebuilt even if
    the failing message runs out of receives before another file arrives."""
    monkeypatch.setenv("STATS_REBUILD_SECONDS", "0")  # the ticks' messages are visible at once
    bucket.put_object(Bucket="data", Key="raw/b/one.csv", Body=GOOD)
    assert summarize.handler(sqs_event(s3_notification("raw/b/one.csv")), FakeContext()) == {"batchItemFailures": []}
    assert consolidate.handler(sqs_event(*consolidate_messages()), FakeContext()) == {"batchItemFailures": []}
    scheduled = consolidate_messages()
    assert [sorted(m) for m in scheduled] == [["tick"]]
    client = lambda_store("data").s3
    original = client.list_objects_v2
    refused: list[str] = []

    def refuse_once(**params: Any) -> Any:
        if not refused and params.get("Prefix", "").startswith(layout.PENDING_PREFIX):
            refused.append(params["Prefix"])
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "refused"}}, "ListObjectsV2")
        return original(**params)

    monkeypatch.setattr(client, "list_objects_v2", refuse_once)
    assert consolidate.handler(sqs_event(*scheduled), FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert refused
    again = consolidate_messages()  # the message that failed is the queue's to retry; this is the new one
    assert [sorted(m) for m in again] == [["tick"]]
    assert consolidate.handler(sqs_event(*again), FakeContext()) == {"batchItemFailures": []}
    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    assert stats.splitlines()[1:] == ["10.0.0.1,8.8.8.8,1,100.0,0.0,3.0,0.0"]


def test_s3_test_event_is_ignored(bucket: Any) -> None:
    event = sqs_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "data"})
    assert summarize.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert consolidate_messages() == []


def test_a_failing_record_is_reported_beside_one_that_succeeds(bucket: Any) -> None:
    bucket.put_object(Bucket="data", Key="raw/b/good.csv", Body=GOOD)
    event = sqs_event(s3_notification("raw/b/good.csv"), {"Records": [{"eventName": "ObjectCreated:Put"}]})
    assert summarize.handler(event, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert status_of(bucket, "raw/b/good.csv").state == "summarized"


def test_a_rejected_file_is_moved_to_rejected_with_its_reason(bucket: Any) -> None:
    bucket.put_object(Bucket="data", Key="raw/b/bad.csv", Body=b"a;b;c\n1;2;3\n")
    assert summarize.handler(sqs_event(s3_notification("raw/b/bad.csv")), FakeContext()) == {"batchItemFailures": []}
    status = status_of(bucket, "raw/b/bad.csv")
    assert status.state == "rejected" and "not comma-separated" in status.reason
    assert bucket.get_object(Bucket="data", Key="rejected/b/bad.csv")["Body"].read().startswith(b"a;b;c")
    assert "Contents" not in bucket.list_objects_v2(Bucket="data", Prefix="raw/")


def test_duplicate_deliveries_change_nothing(bucket: Any) -> None:
    bucket.put_object(Bucket="data", Key="raw/b/x.csv", Body=GOOD)
    event = sqs_event(s3_notification("raw/b/x.csv"))
    summarize.handler(event, FakeContext())
    summarize.handler(event, FakeContext())
    messages = consolidate_messages()
    consolidate.handler(sqs_event(*messages, *messages), FakeContext())
    consolidate.handler(sqs_event(*messages), FakeContext())
    tick()
    tick()
    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    assert stats.splitlines()[1:] == ["10.0.0.1,8.8.8.8,1,100.0,0.0,3.0,0.0"]


def test_reupload_under_the_same_name_replaces_the_contribution(bucket: Any) -> None:
    key = "raw/b/x.csv"
    for body in (GOOD, GOOD.replace(b",100,3", b",40,1").replace(b"01/12/2022", b"02/12/2022")):
        bucket.put_object(Bucket="data", Key=key, Body=body)
        summarize.handler(sqs_event(s3_notification(key)), FakeContext())
        consolidate.handler(sqs_event(*consolidate_messages()), FakeContext())
    tick()
    stats = bucket.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    assert stats.splitlines()[1:] == ["10.0.0.1,8.8.8.8,1,40.0,0.0,1.0,0.0"]
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket="data", Prefix=layout.SUMMARIES_PREFIX)["Contents"]]
    assert len(keys) == 1 and keys[0] == layout.summary_key("2022-12-02", layout.source_id(key))


def test_one_structured_log_record_per_file(bucket: Any, caplog: Any) -> None:
    bucket.put_object(Bucket="data", Key="raw/b/x.csv", Body=GOOD + b"bad,8.8.8.8,01/12/2022 10:00:00 AM,1,1\n")
    with caplog.at_level("INFO", logger="iot.handlers"):
        summarize.handler(sqs_event(s3_notification("raw/b/x.csv")), FakeContext())
    (record,) = [r for r in caplog.records if r.getMessage() == "summarized"]
    fields = vars(record)
    assert fields["key"] == "raw/b/x.csv" and fields["outcome"] == "summarized"
    assert (fields["rows_read"], fields["rows_kept"], fields["skipped"]) == (2, 1, {"bad_ip": 1})
    assert fields["pairs"] == 1 and fields["days"] == 1 and fields["seconds"] >= 0


def test_an_export_reads_one_block_of_each_table_of_the_pairs_days(bucket: Any) -> None:
    def upload(day: int, duration: int) -> None:
        key = f"raw/b/day-{day:02d}.csv"
        when = f"{day:02d}/12/2022 10:00:00 AM"
        rows = f"10.0.0.1,8.8.8.8,{when},{duration},3\n10.0.1.{day},8.8.8.8,{when},1,1\n"
        bucket.put_object(Bucket="data", Key=key, Body=GOOD.split(b"\n", 1)[0] + b"\n" + rows.encode())
        assert summarize.handler(sqs_event(s3_notification(key)), FakeContext()) == {"batchItemFailures": []}
        assert consolidate.handler(sqs_event(*consolidate_messages()), FakeContext()) == {"batchItemFailures": []}

    for day in range(1, 15):
        upload(day, 100 * day)
    tick()
    upload(3, 7)  # a re-upload, pending until the next fold: the export adds its delta
    upload(20, 9)
    read: list[tuple[str, str]] = []
    store = lambda_store("data")
    store.s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: read.append((params["Key"], params.get("Range", "")))
    )
    days = State(store).pair_days("10.0.0.1", "8.8.8.8")
    expected = {f"2022-12-{day:02d}": 100 * day for day in range(1, 15)} | {"2022-12-03": 7, "2022-12-20": 9}
    assert {date: counts.duration for date, counts in (days or {}).items()} == expected
    shard = shard_of(pair_name("10.0.0.1", "8.8.8.8"))
    tables = [key for key, _ in read if not key.startswith(layout.PENDING_PREFIX)]
    assert all(ranged for key, ranged in read if key in tables), "tables are read in ranges"
    day_tables = {layout.day_table_key(shard, f"2022-12-{day:02d}") for day in [*range(1, 15), 20]}
    assert sorted(set(tables)) == sorted({layout.stats_table_key(shard)} | day_tables)
    assert len(tables) <= 2 * (1 + len(day_tables))  # a header and a block of each (day 20 may be pending only)
    assert {key for key, _ in read if key.startswith(layout.PENDING_PREFIX)} <= {
        key for key in store.keys(layout.pending_prefix(shard))
    }


def test_a_status_or_summary_not_visible_yet_is_retried_never_skipped(bucket: Any) -> None:
    """Right after versioning is first enabled S3 may answer 404 for objects that exist: the consolidator
    fails the record (retried, then the DLQ) instead of acknowledging a file it never applied."""
    key = "raw/b/x.csv"
    bucket.put_object(Bucket="data", Key=key, Body=GOOD)
    summarize.handler(sqs_event(s3_notification(key)), FakeContext())
    messages = consolidate_messages()
    hidden = [layout.status_key(key), layout.summary_key("2022-12-01", layout.source_id(key))]

    def not_found_once(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] in hidden:
            hidden.remove(params["Key"])
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "not visible yet"}}, "GetObject")

    lambda_store("data").s3.meta.events.register("before-parameter-build.s3.GetObject", not_found_once)
    for _ in hidden[:]:
        assert consolidate.handler(sqs_event(*messages), FakeContext()) == {
            "batchItemFailures": [{"itemIdentifier": "m0"}]
        }
        assert status_of(bucket, key).state == "summarized"
    assert consolidate.handler(sqs_event(*messages), FakeContext()) == {"batchItemFailures": []}
    assert status_of(bucket, key).state == "consolidated"
    assert State(lambda_store("data")).pair_days("10.0.0.1", "8.8.8.8") == {"2022-12-01": Counts(100, 3, 1)}


def test_the_role_check_after_each_test_refuses_what_a_role_does_not_grant(bucket: Any) -> None:
    """The check every handler test ends with (conftest.every_call_allowed_by_its_role) can fail: summarize
    may not write the consolidated state, nor consolidate delete an upload."""
    summarize_write = {"function": "summarize", "operation": "PutObject", "Bucket": "data", "Key": "consolidated/x"}
    consolidate_delete = {"function": "consolidate", "operation": "DeleteObject", "Bucket": "data", "Key": "raw/a.csv"}
    assert len(denied_here([summarize_write, consolidate_delete])) == 2
    assert denied_here([{**summarize_write, "operation": "GetObject", "Key": "raw/a.csv"}]) == []
