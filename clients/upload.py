"""python -m clients.upload FOLDER: upload flow logs to raw/<branch>/ and, with --wait, follow them
through the pipeline until each is consolidated or rejected."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from clients.common import EXIT_CODES_HELP, EXIT_FAILED, ClientFailure, Stack, add_stack_arguments, explain
from clients.progress import Progress
from core.layout import RAW_PREFIX, status_key
from core.status import REJECTED, FileStatus

SUFFIXES = (".csv", ".csv.gz")
TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, max_concurrency=8)


@dataclass
class Uploaded:
    path: Path
    key: str
    etag: str


def flow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))


def upload(stack: Stack, folder: Path, branch: str, progress: Progress) -> list[Uploaded]:
    s3 = stack.client("s3")
    uploaded = []
    for path in flow_files(folder):
        key = f"{RAW_PREFIX}{branch}/{path.relative_to(folder).as_posix()}"
        s3.upload_file(str(path), stack.bucket, key, Config=TRANSFER, Callback=progress.add_bytes)
        etag = s3.head_object(Bucket=stack.bucket, Key=key)["ETag"]
        uploaded.append(Uploaded(path, key, etag))
        progress.file_done(key)
    return uploaded


def describe(status: FileStatus) -> str:
    state = status.shown_state(time.time())
    if state == REJECTED:
        return f"{status.key}: rejected: {status.reason}"
    skipped = sum(status.skipped.values())
    line = f"{status.key}: {state}, {status.rows_kept} rows kept, {skipped} skipped"
    if skipped:
        line += " (" + ", ".join(f"{k} {v}" for k, v in sorted(status.skipped.items())) + ")"
    return line


def wait(stack: Stack, files: list[Uploaded], timeout: float, progress: Progress) -> int:
    s3 = stack.client("s3")
    pending = {f.key: f for f in files}
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    failures = 0
    while pending and time.monotonic() < deadline:
        for key, file in list(pending.items()):
            status = _status(s3, stack.bucket, key)
            if status is None or status.etag != file.etag:
                continue
            state = status.shown_state(time.time())
            if seen.get(key) != state:
                seen[key] = state
                if not status.done:
                    progress.say(f"{key}: {state}")
            if status.done:
                print(describe(status))
                failures += status.state == REJECTED
                del pending[key]
        if pending:
            time.sleep(0.5)
    for key in pending:
        print(f"{key}: not done after {timeout:.0f}s (state: {seen.get(key, 'pending')})")
    return EXIT_FAILED if failures or pending else 0


def _status(s3: Any, bucket: str, raw_key: str) -> FileStatus | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=status_key(raw_key))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None
        raise
    return FileStatus.loads(body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.upload",
        description="Upload every .csv and .csv.gz under FOLDER to s3://BUCKET/raw/<branch>/<relative path>.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("folder", metavar="FOLDER", type=Path)
    parser.add_argument("--branch", help="branch name in the object keys (default: FOLDER's own name)")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until each file is consolidated or rejected; exit 1 if any was rejected or the wait timed out",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds --wait waits at most (default: 600)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)

    folder: Path = args.folder
    if not folder.is_dir():
        raise ClientFailure(f"not a folder: {folder}", 2)
    files = flow_files(folder)
    if not files:
        raise ClientFailure(f"no .csv or .csv.gz files under {folder}", 2)
    branch = args.branch or folder.resolve().name
    stack = Stack(args)
    progress = Progress(len(files), sum(p.stat().st_size for p in files), quiet=args.quiet)
    try:
        try:
            uploaded = upload(stack, folder, branch, progress)
        finally:
            progress.close()
        progress.say(f"uploaded {len(uploaded)} file(s) to s3://{stack.bucket}/{RAW_PREFIX}{branch}/")
        return wait(stack, uploaded, args.timeout, progress) if args.wait else 0
    except (BotoCoreError, ClientError) as exc:
        raise explain(exc, stack.bucket) from None


if __name__ == "__main__":
    raise SystemExit(main())
