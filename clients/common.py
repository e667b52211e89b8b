"""What every client shares: where the stack is (flag, environment, outputs file, Pulumi), and clean errors."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

EXIT_FAILED = 1
EXIT_BAD_IP = 3
EXIT_UNKNOWN_PAIR = 4
EXIT_NO_BUCKET = 5
EXIT_UNREACHABLE = 6
EXIT_CODES_HELP = (
    "exit status: 0 success; 1 a file was rejected or the wait timed out; 2 bad usage; 3 invalid IP address; "
    "4 unknown pair; 5 bucket not configured or missing; 6 endpoint unreachable or no credentials"
)
LOCAL_OUTPUTS = "local-outputs.json"
RETRIES = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60)


class ClientFailure(SystemExit):
    """One clear line on stderr and a distinct exit code."""

    def __init__(self, message: str, code: int) -> None:
        print(f"error: {message}", file=sys.stderr)
        super().__init__(code)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bucket",
        default=os.environ.get("IOT_BUCKET"),
        help="data bucket (default: $IOT_BUCKET, then the local stack's outputs file, then `pulumi stack output`)",
    )
    parser.add_argument(
        "--outputs",
        default=os.environ.get("IOT_OUTPUTS", LOCAL_OUTPUTS),
        help=f"stack outputs JSON written by `python -m local up` (default: $IOT_OUTPUTS or {LOCAL_OUTPUTS})",
    )


def _pulumi_outputs() -> dict[str, Any]:
    if shutil.which("pulumi") is None:
        return {}
    done = subprocess.run(["pulumi", "stack", "output", "--json"], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {}


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        outputs_file = Path(args.outputs)
        outputs: dict[str, Any] = json.loads(outputs_file.read_text()) if outputs_file.is_file() else {}
        if not args.bucket and not outputs:
            outputs = _pulumi_outputs()
        self.outputs = outputs
        self.bucket: str = args.bucket or outputs.get("bucket_name", "")
        if not self.bucket:
            raise ClientFailure(
                "no bucket: pass --bucket, set IOT_BUCKET, or start `python -m local up`", EXIT_NO_BUCKET
            )
        self._endpoint = os.environ.get("AWS_ENDPOINT_URL") or outputs.get("endpoint_url")
        self._local = "AWS_ENDPOINT_URL" not in os.environ and "endpoint_url" in outputs

    def client(self, service: str) -> Any:
        options: dict[str, Any] = {"config": RETRIES}
        if self._endpoint:
            options["endpoint_url"] = self._endpoint
        if self._local:
            options.update(
                region_name=self.outputs.get("region", "us-east-1"),
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
        return boto3.client(service, **options)  # type: ignore[call-overload]  # service is "s3" or "sqs"


def explain(exc: Exception, bucket: str) -> ClientFailure:
    """Turn an AWS error a person can cause into one line and an exit code."""
    if isinstance(exc, EndpointConnectionError):
        return ClientFailure(f"cannot reach the endpoint: {exc.kwargs.get('endpoint_url', '')}", EXIT_UNREACHABLE)
    if isinstance(exc, NoCredentialsError):
        return ClientFailure("no AWS credentials found (configure them, or use the local stack)", EXIT_UNREACHABLE)
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return ClientFailure(f"bucket {bucket!r} does not exist", EXIT_NO_BUCKET)
        return ClientFailure(f"AWS error: {code}: {exc.response.get('Error', {}).get('Message', '')}", EXIT_FAILED)
    raise exc
