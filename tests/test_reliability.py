"""Invariants 1-3 on the running local stack (every message delivered twice): bad files, re-uploads, poison."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import upload
from core import layout
from core.counts import Counts
from storage.consolidated import State
from storage.store import Store
from tests.conftest import RunningStack, start_stack
from tests.corpus import CORPUS, GOOD_ROW, HEADER


def status(stack: RunningStack, key: str) -> dict[str, object]:
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=layout.status_key(key))["Body"].read()
    return dict(json.loads(body))


def stats_of(stack: RunningStack, src: str, want: list[str]) -> list[str]:
    """The pair's rows of traffic_stats.csv once they are `want` (or the wait ran out)."""

    def rows_of(rows: list[str]) -> list[str]:
        return [line for line in rows if line.startswith(src + ",")]

    return rows_of(stack.traffic_stats(lambda rows: rows_of(rows) == want))


def test_bad_files_get_their_outcome_and_block_nothing(
    local_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, (make, _, _) in CORPUS.items():
        (folder / name).write_bytes(make())
    (folder / "good.csv").write_text(HEADER + GOOD_ROW.replace("10.0.0.1", "10.77.0.1"))
    assert upload.main([str(folder), "--wait", "--timeout", "300", "--outputs", str(local_stack.outputs_file)]) == 1
    out = capsys.readouterr().out
    assert "raw/corpus/good.csv: consolidated, 1 rows kept, 0 skipped" in out
    s3 = local_stack.client("s3")
    for name, (_, outcome, expected) in CORPUS.items():
        record = status(local_stack, f"raw/corpus/{name}")
        if outcome == "rejected":
            assert record["state"] == "rejected" and str(expected) in str(record["reason"]), name
            s3.head_object(Bucket=local_stack.bucket, Key=layout.rejected_key(f"raw/corpus/{name}"))
        else:
            assert record["state"] == "consolidated" and record["skipped"] == expected, name
    want = ["10.77.0.1,10.0.0.2,1,100.0,0.0,3.0,0.0"]
    assert stats_of(local_stack, "10.77.0.1", want) == want


def test_reupload_same_content_changes_nothing_new_content_replaces(local_stack: RunningStack, tmp_path: Path) -> None:
    folder = tmp_path / "reupload"
    folder.mkdir()
    common = ["--wait", "--quiet", "--timeout", "120", "--outputs", str(local_stack.outputs_file)]
    day1 = GOOD_ROW.replace("10.0.0.1", "10.88.0.1")
    day2 = day1.replace("01/12/2022", "02/12/2022").replace(",100,3,", ",300,5,")
    (folder / "log.csv").write_text(HEADER + day1 + day2)
    assert upload.main([str(folder), *common]) == 0
    before = ["10.88.0.1,10.0.0.2,2,200.0,141.4213562373095,4.0,1.4142135623730951"]
    assert stats_of(local_stack, "10.88.0.1", before) == before
    # Identical bytes again: --wait follows this upload (its upload id), so it returns only once the second
    # upload itself was summarized and consolidated; the numbers do not change.
    generation = status(local_stack, "raw/reupload/log.csv")["generation"]
    assert upload.main([str(folder), *common]) == 0
    assert status(local_stack, "raw/reupload/log.csv")["generation"] > generation  # type: ignore[operator]
    assert State(Store(local_stack.bucket, local_stack.client("s3"))).pair_days("10.88.0.1", "10.0.0.2") == {
        "2022-12-01": Counts(100, 3, 1),
        "2022-12-02": Counts(300, 5, 1),
    }  # exports are exact at once
    assert stats_of(local_stack, "10.88.0.1", before) == before
    (folder / "log.csv").write_text(HEADER + day2)
    assert upload.main([str(folder), *common]) == 0
    after = ["10.88.0.1,10.0.0.2,1,300.0,0.0,5.0,0.0"]
    assert stats_of(local_stack, "10.88.0.1", after) == after
    assert status(local_stack, "raw/reupload/log.csv")["generation"] >= 3


POISON_CONFIG = ("summarizeTimeout=2", "consolidateTimeout=2")
"""Function timeouts as short as the messages' failures: a failed message comes back no sooner than
2 x the function timeout + 1 s (local.runner), 5 s here."""


@pytest.fixture(scope="module")
def poison_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: its DLQs hold nothing but what this test sends (on the shared stack, another
    test's file whose invocations all ran out of time on a loaded machine could land there too)."""
    yield from start_stack(tmp_path_factory.mktemp("poison"), POISON_CONFIG)


def test_poison_messages_reach_the_dlqs_after_max_receive_count(poison_stack: RunningStack) -> None:
    sqs = poison_stack.client("sqs")
    outputs = poison_stack.outputs
    sqs.send_message(QueueUrl=outputs["ingest_queue_url"], MessageBody="this is not an S3 notification")
    sqs.send_message(QueueUrl=outputs["consolidate_queue_url"], MessageBody='{"no": "key"}')
    # 4 redeliveries, each after the visibility timeout (6 x function timeout) on the stack's scaled clock,
    # but no sooner than 2 x function timeout + 1 s (local.runner): 4 x 5 s
    deadline = time.monotonic() + 120
    depths = {}
    while time.monotonic() < deadline:
        depths = {
            name: int(
                sqs.get_queue_attributes(QueueUrl=outputs[name], AttributeNames=["ApproximateNumberOfMessages"])[
                    "Attributes"
                ]["ApproximateNumberOfMessages"]
            )
            for name in ("ingest_dlq_url", "consolidate_dlq_url")
        }
        if all(depths.values()):
            break
        time.sleep(1)
    # The stack delivers every message twice, so each poison message may arrive there twice.
    assert all(depths.values()), depths
    for name, body in (("ingest_dlq_url", "this is not an S3 notification"), ("consolidate_dlq_url", '{"no": "key"}')):
        messages = sqs.receive_message(QueueUrl=outputs[name], AttributeNames=["All"], MaxNumberOfMessages=10)
        for message in messages["Messages"]:
            assert message["Body"] == body
            assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 5
