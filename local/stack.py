"""The local stack: a moto server, the Pulumi program deployed onto it, and one emulator process per
event source mapping, each running its function with exactly the environment and code Pulumi declares.

`time_scale` shortens every wait the emulator imposes (a failed message's visibility timeout, a
message's DelaySeconds, a lifecycle day) for tests; the functions' own timeouts stay as declared.
"""

from __future__ import annotations

import datetime
import importlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from core import layout
from local import moto_fixes
from local.deploy import Deployment, Function, Mapping, deploy, role_policies
from local.faults import ENV as FAULTS_ENV
from local.faults import TRACE_ENV, Faults

REGION = "us-east-1"
LIFECYCLE_DAY_SECONDS = 5.0
LIFECYCLE_ROUND_MIN_SECONDS = 1.0
"""However short a scaled day, the lifecycle rules are applied at most once a second (each round lists versions)."""
NOT_FOUND_PREFIXES = [layout.RAW_PREFIX, layout.STATUS_PREFIX, layout.SUMMARIES_PREFIX]
"""What the not-found fault answers with a 404: raw objects, status records and summaries."""
STOP_SECONDS = 15
"""How long the runners have to stop, together, before they are killed."""
RUNNER = Path(__file__).resolve().parent / "runner.py"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


class MotoServer:
    """moto's server on 127.0.0.1, its socket bound in the caller's thread so that a port in use fails at once
    with an OSError (moto's ThreadedMotoServer binds in its own thread, where the failure exits that thread
    and leaves the caller waiting for ever)."""

    def __init__(self, port: int) -> None:
        with socket.create_server(("127.0.0.1", port)) as bound:
            self._server: BaseWSGIServer = make_server(
                "127.0.0.1",
                port,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=bound.fileno(),
            )
        # Stopping does not wait for the requests in flight (their clients are being stopped too):
        # socketserver would join every request thread, among them SQS long polls of stopped runners.
        self._server.block_on_close = False  # type: ignore[attr-defined]
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def _materialize(files: dict[str, str], target: Path) -> Path:
    for name, source in files.items():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return target


def lease_timeouts(handler: str) -> float:
    """How many of its timeouts a function's lease on a file can last (the runner keeps a failed message
    hidden that long, whatever the time scale): summarize's LEASE_PER_REMAINING_TIME; 0 for a function
    that leases nothing."""
    module = importlib.import_module(handler.rpartition(".")[0])
    return float(getattr(module, "LEASE_PER_REMAINING_TIME", 0))


class LocalStack:
    def __init__(
        self,
        port: int = 0,
        workers: int = 4,
        config: dict[str, str] | None = None,
        duplicates: bool = False,
        function_logs: Path | None = None,
        faults: Faults | None = None,
        trace: Path | None = None,
        time_scale: float = 1.0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        self.time_scale = time_scale
        self.trace = trace
        self.duplicates = duplicates
        self.faults = faults or Faults()
        self.function_logs = function_logs
        self.port = port
        self.workers = workers
        self.config = config or {}
        self.server: MotoServer | None = None
        self.endpoint = ""
        self.deployment = Deployment()
        self.processes: list[subprocess.Popen[str]] = []
        self._stopping = threading.Event()
        self._janitor: threading.Thread | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="iot-local-"))
        if self.faults.not_found_reads and not self.faults.not_found_prefixes:
            self.faults.not_found_prefixes = list(NOT_FOUND_PREFIXES)
        if self.faults.counted and not self.faults.counters:
            counters = self._workdir / "fault-counters"
            counters.mkdir()
            self.faults.counters = str(counters)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **_boto_credentials())

    def start(self) -> dict[str, Any]:
        """Start everything, or raise with everything started so far stopped again."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, Any]:
        moto_fixes.apply()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = MotoServer(self.port)
        self.endpoint = self.server.endpoint
        self.deployment = deploy(self.client("s3"), self.client("sqs"), REGION, self.config, time_scale=self.time_scale)
        if self.trace is not None:
            self.trace.mkdir(parents=True, exist_ok=True)
            queues = {url: arn for arn, url in self.deployment.queues.items()}
            mappings = {
                self.deployment.functions[m.function_arn].name: self.deployment.queues[m.queue_arn]
                for m in self.deployment.mappings
            }
            manifest = {"policies": role_policies(self.deployment), "queues": queues, "mappings": mappings}
            (self.trace / "policies.json").write_text(json.dumps(manifest, indent=1))
        for mapping in self.deployment.mappings:
            function = self.deployment.functions[mapping.function_arn]
            self.processes.append(
                self._start_runner(function, mapping, max(1, min(self.workers, mapping.maximum_concurrency)))
            )
        self._janitor = threading.Thread(target=self._apply_lifecycle, daemon=True)
        self._janitor.start()
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"an event source mapping emulator failed to start: {line!r}")
        return self.outputs

    @property
    def day_seconds(self) -> float:
        return LIFECYCLE_DAY_SECONDS * self.time_scale

    @property
    def outputs(self) -> dict[str, Any]:
        return {**self.deployment.outputs, "endpoint_url": self.endpoint, "region": REGION}

    def _start_runner(self, function: Function, mapping: Mapping, workers: int) -> subprocess.Popen[str]:
        code_dir = _materialize(function.code, self._workdir / function.name / "task")
        paths = [str(code_dir)]
        for n, layer_arn in enumerate(function.layers):
            layer_dir = _materialize(self.deployment.layers[layer_arn], self._workdir / function.name / f"layer{n}")
            paths.append(str(layer_dir / "python"))
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PYTHON"))}
        env.update(CREDENTIALS)
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_LAMBDA_FUNCTION_NAME=function.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory),
            PYTHONPATH=os.pathsep.join(paths),
            PYTHONUNBUFFERED="1",
        )
        env.update(function.environment)
        if self.faults.active:
            env[FAULTS_ENV] = self.faults.dumps()
        if self.trace is not None:
            env[TRACE_ENV] = str(self.trace)
        spec = {
            "handler": function.handler,
            "function_name": function.name,
            "timeout": function.timeout,
            "memory": function.memory,
            "queue_url": self.deployment.queues[mapping.queue_arn],
            "queue_arn": mapping.queue_arn,
            "batch_size": mapping.batch_size,
            "batching_window": mapping.batching_window,
            "report_batch_item_failures": mapping.report_batch_item_failures,
            "workers": workers,
            "duplicate_deliveries": self.duplicates,
            "region": REGION,
            "time_scale": self.time_scale,
            "lease_timeouts": lease_timeouts(function.handler),
        }
        logs = self.function_logs.open("a") if self.function_logs else None
        try:
            return subprocess.Popen(
                [sys.executable, str(RUNNER), json.dumps(spec)],
                cwd=code_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=logs,
                text=True,
                start_new_session=True,  # a terminal's Ctrl-C reaches `local up` only, which stops the rest
            )
        finally:
            if logs is not None:
                logs.close()

    def _apply_lifecycle(self) -> None:
        """moto keeps every version forever: expire noncurrent versions as the program's lifecycle rules
        say, a 'day' lasting LIFECYCLE_DAY_SECONDS x time_scale here (expired delete markers are left: they
        hold no data)."""
        s3 = self.client("s3")
        bucket = self.deployment.outputs.get("bucket_name", "")
        rules = [r for r in self.deployment.lifecycle if r.get("noncurrentVersionExpiration")]
        while not self._stopping.wait(max(self.day_seconds, LIFECYCLE_ROUND_MIN_SECONDS)):
            for rule in rules:
                try:
                    self._expire(s3, bucket, rule)
                except Exception:  # the next round tries again; never take the stack down
                    logging.getLogger("local.stack").exception("lifecycle round failed")

    def _expire(self, s3: Any, bucket: str, rule: dict[str, Any]) -> None:
        age = rule["noncurrentVersionExpiration"]["noncurrentDays"] * self.day_seconds
        now = datetime.datetime.now(datetime.UTC)
        doomed = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=rule["filter"]["prefix"]):
            for version in page.get("Versions", []):
                if not version["IsLatest"] and (now - version["LastModified"]).total_seconds() > age:
                    doomed.append({"Key": version["Key"], "VersionId": version["VersionId"]})
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes:
            process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.processes.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": CREDENTIALS["AWS_SESSION_TOKEN"],
    }
