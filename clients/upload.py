"""python -m clients.upload FOLDER: upload flow logs to raw/<branch>/ and, with --wait, follow them
through the pipeline until each is consolidated or rejected."""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from clients.common import EXIT_CODES_HELP, EXIT_FAILED, EXIT_USAGE, Failure, Stack, add_stack_arguments
from clients.progress import Progress
from core import layout
from core.status import REJECTED, FileStatus
from storage.store import Store

SUFFIXES = (".csv", ".csv.gz")
TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, max_concurrency=8)
POLL_SECONDS = 0.5


@dataclass
class Uploaded:
    path: Path
    key: str
    upload_id: str
    """Given to the object as metadata; the status record names the upload it summarized."""


def flow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))


def upload(stack: Stack, folder: Path, branch: str, progress: Progress) -> list[Uploaded]:
    s3 = stack.s3()
    uploaded = []
    for path in flow_files(folder):
        key = layout.raw_key(branch, path.relative_to(folder).as_posix())
        upload_id = uuid.uuid4().hex
        s3.upload_file(
            str(path),
            stack.bucket,
            key,
            ExtraArgs={"Metadata": {layout.UPLOAD_ID: upload_id}},
            Config=TRANSFER,
            Callback=progress.add_bytes,
        )
        uploaded.append(Uploaded(path, key, upload_id))
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


def wait(store: Store, branch: str, files: list[Uploaded], timeout: float, progress: Progress) -> int:
    """Follow each upload (by its upload id, never a previous upload of the same name) until it is
    consolidated or rejected; only a final state is printed as final."""
    pending = {f.key: f for f in files}
    seen: dict[str, str] = {}
    etags: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    failures = 0
    while pending:
        for status in store.changed_statuses(layout.status_prefix(branch), etags):
            file = pending.get(status.key)
            if file is None or status.upload_id != file.upload_id:
                continue
            state = status.shown_state(time.time())
            if status.done:
                print(describe(status))
                failures += status.state == REJECTED
                del pending[status.key]
            elif seen.get(status.key) != state:
                seen[status.key] = state
                progress.say(f"{status.key}: {state}")
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    for key in pending:
        print(f"{key}: not done after {timeout:.0f}s (state: {seen.get(key, 'pending')})")
    return EXIT_FAILED if failures or pending else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.upload",
        description="Upload every .csv and .csv.gz under FOLDER to s3://BUCKET/raw/<branch>/<relative path>. "
        "Uploading a file again under the same name replaces its earlier contribution (identical bytes are "
        "processed again and change no number).",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("folder", metavar="FOLDER", type=Path)
    parser.add_argument("--branch", help="branch name in the object keys (default: FOLDER's own name)")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until each uploaded file is consolidated or rejected; exit 1 if any was rejected or the wait "
        "timed out",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds --wait waits at most (default: 600)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Failure as exc:
        return exc.report()


def run(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    if not folder.is_dir():
        raise Failure(f"not a folder: {folder}", EXIT_USAGE)
    files = flow_files(folder)
    if not files:
        raise Failure(f"no .csv or .csv.gz files under {folder}", EXIT_USAGE)
    branch = args.branch or folder.resolve().name
    for path in files:
        problem = layout.key_problem(layout.raw_key(branch, path.relative_to(folder).as_posix()))
        if problem:
            raise Failure(f"{path}: {problem}; shorten its path", EXIT_USAGE)
    stack = Stack.from_args(args, quiet=args.quiet)
    progress = Progress(len(files), sum(p.stat().st_size for p in files), quiet=args.quiet)
    with stack.errors():
        try:
            uploaded = upload(stack, folder, branch, progress)
        finally:
            progress.close()
        progress.say(f"uploaded {len(uploaded)} file(s) to s3://{stack.bucket}/{layout.RAW_PREFIX}{branch}/")
        return wait(stack.store(), branch, uploaded, args.timeout, progress) if args.wait else 0


if __name__ == "__main__":
    raise SystemExit(main())
