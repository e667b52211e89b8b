"""The mapping emulator gathers batches as Lambda's SQS mapping does (local/runner.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

import local
from tests.conftest import moto_world


@pytest.fixture(autouse=True)
def runner_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.py runs as a script beside its helper modules (local.stack starts it so)."""
    monkeypatch.syspath_prepend(str(Path(local.__file__).parent))


def poller(url: str, batch_size: int, window: int, time_scale: float, **more: Any) -> Any:
    from local.runner import Poller

    spec: dict[str, Any] = {
        "queue_url": url,
        "batch_size": batch_size,
        "batching_window": window,
        "time_scale": time_scale,
        **more,
    }
    return Poller(spec, threading.Event())


def test_a_batching_window_gathers_messages_until_the_batch_is_full_or_the_window_ends(aws_env: None) -> None:
    with moto_world():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))

        started = time.monotonic()
        assert poller(url, 10, 0, 1.0).gather(started, 1) == []  # no window: invoke with what came

        full = poller(url, 3, 300, 1.0).gather(time.monotonic(), 1)
        assert len(full) == 2  # the batch is full long before the window's end
        assert time.monotonic() - started < 30

        started = time.monotonic()
        rest = poller(url, 10, 4, 0.5).gather(started, 3)
        waited = time.monotonic() - started
        assert len(rest) == 3  # what was left, then nothing until the window (4 s at a time scale of 0.5) ends
        assert 1.5 <= waited < 10, waited


@pytest.mark.parametrize(
    ("handler", "hidden"),
    [("handlers.summarize.handler", (2.5, 4.5)), ("handlers.consolidate.handler", (0.5, 2.5))],
    ids=["leases files", "leases nothing"],
)
def test_a_failed_message_is_hidden_for_the_scaled_visibility_timeout_or_the_longest_lease(
    aws_env: None, handler: str, hidden: tuple[float, float]
) -> None:
    """A timeout of 1 s, a visibility timeout of 6 s, a time scale of 0.05: the scaled rest is 1 s, but
    summarize's lease can last 2 timeouts (+1 s), and a redelivery must not find it as AWS's never would."""
    from local.stack import lease_timeouts

    with moto_world():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "6"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        mapping = poller(url, 10, 0, 0.05, timeout=1, lease_timeouts=lease_timeouts(handler))
        received_at = time.monotonic()
        failed = sqs.receive_message(QueueUrl=url)["Messages"]
        mapping.return_early(failed, received_at)
        while not sqs.receive_message(QueueUrl=url).get("Messages"):
            time.sleep(0.1)
        assert hidden[0] <= time.monotonic() - received_at < hidden[1]
