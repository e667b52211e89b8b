"""clients.rebuild: consolidated/ rebuilt from summaries/ equals what the consolidator built, and
replaces an old layout's objects."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from clients import export, rebuild
from core import layout
from handlers import consolidate, summarize
from storage.consolidated import State
from storage.store import Store
from tests.handlers.conftest import FakeContext, moto_bucket, s3_notification, sqs_event

HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
FILES = {
    "raw/north/a.csv": HEADER + b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n"
    b"10.0.0.1,8.8.8.8,02/12/2022 10:00:00 AM,50,1\n",
    "raw/south/b.csv": HEADER + b"10.0.0.1,8.8.8.8,02/12/2022 09:00:00 AM,25,2\n"
    b"10.0.0.2,1.1.1.1,03/12/2022 10:00:00 AM,40,4\n",
}


def run_pipeline(s3: Any) -> None:
    for key, body in FILES.items():
        s3.put_object(Bucket="data", Key=key, Body=body)
        assert summarize.handler(sqs_event(s3_notification(key)), FakeContext()) == {"batchItemFailures": []}
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="consolidate")["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert consolidate.handler(sqs_event(*bodies, {"tick": 0}), FakeContext()) == {"batchItemFailures": []}


def snapshot(s3: Any, tmp_path: Any) -> tuple[str, str]:
    stats = s3.get_object(Bucket="data", Key=layout.TRAFFIC_STATS_KEY)["Body"].read().decode()
    target = tmp_path / "export.csv"
    assert export.main(["10.0.0.1", "8.8.8.8", "--bucket", "data", "-o", str(target), "--outputs", "none"]) == 0
    return stats, target.read_text()


def test_rebuild_reproduces_the_state_and_drops_an_old_layout(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with moto_bucket(monkeypatch) as s3:
        run_pipeline(s3)
        before = snapshot(s3, tmp_path)
        assert before[0].splitlines()[1] == "10.0.0.1,8.8.8.8,2,87.5,17.67766952966369,3.0,0.0"
        old_layout = ["consolidated/pairs/part=03.json", "consolidated/days/dt=2022-12-01/part=03.json"]
        for key in old_layout:  # the layout before this one: stats parts, day parts, ...
            s3.put_object(Bucket="data", Key=key, Body=b'{"format": 2}')
        for key in list(State(Store("data", s3)).store.keys(layout.FILES_PREFIX)):
            s3.delete_object(Bucket="data", Key=key)  # damage, as a bug would
        assert rebuild.main(["--bucket", "data", "--outputs", "none"]) == 0
        assert "from 2 file(s)" in capsys.readouterr().out
        assert snapshot(s3, tmp_path) == before
        left = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="consolidated/").get("Contents", [])]
        assert not set(old_layout) & set(left) and not [k for k in left if k.startswith(layout.PENDING_PREFIX)]


def test_rebuild_refuses_while_a_file_is_being_summarized(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with moto_bucket(monkeypatch) as s3:
        run_pipeline(s3)
        key = layout.status_key("raw/north/a.csv")
        status = json.loads(s3.get_object(Bucket="data", Key=key)["Body"].read())
        status["lease_until"] = 4e9
        s3.put_object(Bucket="data", Key=key, Body=json.dumps(status).encode())
        assert rebuild.main(["--bucket", "data", "--outputs", "none"]) == 1
        assert "being summarized" in capsys.readouterr().err
        assert rebuild.main(["--bucket", "data", "--outputs", "none", "--force", "-q"]) == 0
