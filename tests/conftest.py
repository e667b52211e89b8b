from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


class RunningStack:
    def __init__(self, outputs_file: Path, outputs: dict[str, Any]) -> None:
        self.outputs_file = outputs_file
        self.outputs = outputs
        self.bucket: str = outputs["bucket_name"]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["endpoint_url"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


STACK_CONFIG = (
    # Short timeouts so retries and the DLQ (after 5 receives, 6 x timeout apart) take seconds, not hours.
    "summarizeTimeout=1",
    "consolidateTimeout=1",
    "summarizeMaxConcurrency=8",
    "consolidateMaxConcurrency=8",
)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`python -m local up` as a subprocess on a free port, 8 workers per mapping, every message delivered
    twice; stopped with SIGTERM at the end."""
    outputs_file = tmp_path_factory.mktemp("stack") / "outputs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "up",
            "--port",
            "0",
            "--outputs",
            str(outputs_file),
            "--workers",
            "8",
            "--duplicate-deliveries",
            *(f"--config={item}" for item in STACK_CONFIG),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not outputs_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start")
            time.sleep(0.2)
        time.sleep(0.2)
        yield RunningStack(outputs_file, json.loads(outputs_file.read_text()))
    finally:
        process.terminate()
        process.wait(timeout=60)
