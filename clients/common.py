"""What every client shares: where the stack is, its clients and store, and errors a person can act on.

Where the stack is: --bucket, then $IOT_BUCKET; otherwise stack outputs, from the local stack's
outputs file (--outputs, default local-outputs.json) when it exists, or from a deployed Pulumi
stack (`pulumi stack output --json`, --stack to name one). The source used is printed on stderr,
so a leftover local outputs file never silently wins over a deployed stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)

from storage.store import Store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_BAD_IP: Final = 3
EXIT_UNKNOWN_PAIR: Final = 4
EXIT_NO_BUCKET: Final = 5
EXIT_UNREACHABLE: Final = 6
EXIT_INTERRUPTED: Final = 130
"""128 + SIGINT, as a shell reports a command stopped by Ctrl-C."""
EXIT_PIPE: Final = 141
"""128 + SIGPIPE: the reader of stdout went away (`| head`), as a shell reports it."""
EXIT_CODES_HELP: Final = (
    "exit status: 0 success; 1 a file was rejected or the wait timed out; 2 bad usage; 3 invalid IP address; "
    "4 unknown pair; 5 bucket not configured or missing; 6 endpoint unreachable or no credentials"
)
AWS_ERROR: Final = (EXIT_FAILED, "an AWS error")
USAGE: Final = (EXIT_USAGE, "bad usage")
BAD_IP: Final = (EXIT_BAD_IP, "invalid IP address")
NO_BUCKET: Final = (EXIT_NO_BUCKET, "bucket not configured or missing")
UNREACHABLE: Final = (EXIT_UNREACHABLE, "endpoint unreachable or no credentials")
INTERRUPTED: Final = (EXIT_INTERRUPTED, "interrupted (Ctrl-C)")
CLOSED_PIPE: Final = (EXIT_PIPE, "its output pipe was closed (e.g. by `| head`)")


EVERY_CLIENT: Final = (USAGE, NO_BUCKET, UNREACHABLE, INTERRUPTED, CLOSED_PIPE)
"""The exit codes every client that reaches the stack can return."""


def exit_codes(*own: tuple[int, str]) -> str:
    """The --help epilog of one command: its own exit codes and EVERY_CLIENT's, in order (its own meaning
    of a code wins)."""
    codes = dict(EVERY_CLIENT) | dict(own)
    return "exit status: 0 success; " + "; ".join(f"{code} {meaning}" for code, meaning in sorted(codes.items()))


def branch_name(text: str) -> str:
    """argparse type of --branch: one non-empty path segment (the branch is a folder of raw/)."""
    if not text.strip() or "/" in text or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"{text!r} is not a branch name: one non-empty name without '/'")
    return text


def seconds(text: str) -> float:
    """argparse type of a duration: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: the number of seconds must be zero or more")
    return value


def run_cli(action: Callable[[], int], interrupted: Callable[[], str] = lambda: "nothing was left half done") -> int:
    """Run a command's work: a Failure is one line and its code; a closed stdout pipe ends quietly
    (EXIT_PIPE); Ctrl-C prints one line (`interrupted()`: what was done and how to resume) and exits
    EXIT_INTERRUPTED."""
    try:
        code = action()
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
        return code
    except Failure as exc:
        return exc.report()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted()}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail on the closed pipe too."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file descriptor (a test's capture): nothing is flushed at exit
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


LOCAL_OUTPUTS: Final = "local-outputs.json"
RETRIES: Final = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60)
LOCAL_CREDENTIALS: Final = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class Failure(Exception):
    """An error a person can act on: one line on stderr and a distinct exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code

    def report(self) -> int:
        print(f"error: {self}", file=sys.stderr)
        return self.code


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", default=os.environ.get("IOT_BUCKET"), help="data bucket (default: $IOT_BUCKET)")
    parser.add_argument(
        "--outputs",
        default=os.environ.get("IOT_OUTPUTS", LOCAL_OUTPUTS),
        help=f"outputs file of `python -m local up` (default: $IOT_OUTPUTS, else {LOCAL_OUTPUTS} in this folder)",
    )
    parser.add_argument(
        "--stack",
        help="read the outputs of this deployed Pulumi stack (`pulumi stack output --stack NAME`), even when a "
        "local outputs file exists",
    )


def _pulumi_outputs(stack: str | None) -> dict[str, Any]:
    if shutil.which("pulumi") is None:
        if stack:
            raise Failure(f"--stack {stack}: the Pulumi CLI is not on PATH", EXIT_NO_BUCKET)
        return {}
    command = ["pulumi", "stack", "output", "--json", *(["--stack", stack] if stack else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if stack:
            raise Failure(f"`{' '.join(command)}` failed: {done.stderr.strip()[:300]}", EXIT_NO_BUCKET)
        return {}
    return dict(json.loads(done.stdout or "{}"))


class Stack:
    """The deployed (or local) pipeline the client talks to."""

    def __init__(self, bucket: str, outputs: dict[str, Any], source: str) -> None:
        self.bucket = bucket
        self.outputs = outputs
        self.source = source
        self.region: str | None = outputs.get("region") or None
        self.local = "endpoint_url" in outputs
        self.endpoint: str | None = os.environ.get("AWS_ENDPOINT_URL") or outputs.get("endpoint_url")

    @classmethod
    def from_args(cls, args: argparse.Namespace, quiet: bool = False) -> Stack:
        outputs_file = Path(args.outputs)
        outputs: dict[str, Any] = {}
        source = ""
        if args.stack:
            outputs, source = _pulumi_outputs(args.stack), f"Pulumi stack {args.stack}"
        elif outputs_file.is_file():
            outputs, source = json.loads(outputs_file.read_text()), f"local stack ({outputs_file})"
        elif not args.bucket:
            outputs, source = _pulumi_outputs(None), "the current Pulumi stack"
        bucket = args.bucket or outputs.get("bucket_name", "")
        if args.bucket:
            source = f"bucket {args.bucket}" + (f" in {source}" if source else "")
        if not bucket:
            raise Failure(
                f"no bucket: pass --bucket, set IOT_BUCKET, start `python -m local up` (looked for "
                f"{outputs_file.resolve()}; set IOT_OUTPUTS or --outputs to its outputs file), or deploy with Pulumi",
                EXIT_NO_BUCKET,
            )
        if not quiet:
            print(f"using {source}", file=sys.stderr)
        return cls(bucket, outputs, source)

    def client(self, service: str) -> Any:
        options: dict[str, Any] = {"config": RETRIES}
        if self.endpoint:
            options["endpoint_url"] = self.endpoint
        if self.region:
            options["region_name"] = self.region
        if self.local:
            options.update(LOCAL_CREDENTIALS)
        return boto3.client(service, **options)  # type: ignore[call-overload]  # service is "s3" or "sqs"

    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    def sqs(self) -> SQSClient:
        client: SQSClient = self.client("sqs")
        return client

    def store(self) -> Store:
        return Store(self.bucket, self.s3(), self.sqs())

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the AWS errors a person can cause into one line and an exit code."""
        try:
            yield
        except (ConnectionError, HTTPClientError) as exc:
            where = self.endpoint or "AWS"
            hint = (
                f"is `python -m local up` still running? ({self.source} may be stale: delete it if not)"
                if self.local
                else "check the network, the region and AWS_ENDPOINT_URL"
            )
            raise Failure(f"cannot reach {where}: {type(exc).__name__}; {hint}", EXIT_UNREACHABLE) from None
        except NoCredentialsError:
            raise Failure(
                "no AWS credentials found (configure them, or use the local stack)", EXIT_UNREACHABLE
            ) from None
        except NoRegionError:
            raise Failure("no AWS region: the stack outputs carry none; set AWS_REGION", EXIT_UNREACHABLE) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise Failure(f"bucket {self.bucket!r} does not exist", EXIT_NO_BUCKET) from None
            message = exc.response.get("Error", {}).get("Message", "")
            raise Failure(f"AWS error: {code}: {message}", EXIT_FAILED) from None
