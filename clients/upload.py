"""python -m clients.upload PATH: upload flow logs to raw/<branch>/ and, with --wait, follow them
through the pipeline until each is consolidated or rejected."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from clients.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    Failure,
    Stack,
    add_stack_arguments,
    branch_name,
    exit_codes,
    run_cli,
    seconds,
)
from clients.progress import Progress
from core import layout
from core.status import REJECTED, FileStatus
from storage.store import Store

SUFFIXES = (".csv", ".csv.gz")
TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, max_concurrency=8)
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Planned:
    path: Path
    key: str


@dataclass
class Uploaded:
    path: Path
    key: str
    upload_id: str
    """Given to the object as metadata; the status record names the upload it summarized."""


@dataclass
class Session:
    """What this run planned and did so far: what Ctrl-C reports."""

    planned: list[Planned] = field(default_factory=list)
    uploaded: list[Uploaded] = field(default_factory=list)

    def interrupted(self) -> str:
        done, total = len(self.uploaded), len(self.planned)
        if total and done == total:
            return (
                f"all {total} file(s) were uploaded and are being processed; follow them with "
                "`python -m clients.status`"
            )
        if not done:
            return f"none of the {total} file(s) was uploaded; run the same command again"
        left = self.planned[done]
        return (
            f"uploaded {done} of {total} file(s) (the last: {self.uploaded[-1].key}); not uploaded: {total - done}, "
            f"from {left.path}; run the same command again to upload them (a file uploaded again under its "
            "name replaces itself, and identical bytes change no number)"
        )


def flow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))


def plan(path: Path, branch: str | None, branches: bool) -> list[Planned]:
    """The files to upload and their keys, or a usage error, before anything is sent."""
    if path.is_file():
        if not path.name.lower().endswith(SUFFIXES):
            raise Failure(f"{path}: not a .csv or .csv.gz file", EXIT_USAGE)
        if branches:
            raise Failure(f"--branches needs a folder of branch folders, and {path} is a file", EXIT_USAGE)
        return [Planned(path, layout.raw_key(branch or _default_branch(path.resolve().parent), path.name))]
    if not path.is_dir():
        raise Failure(f"no such file or folder: {path}", EXIT_USAGE)
    files = flow_files(path)
    if not files:
        raise Failure(f"no .csv or .csv.gz files under {path}", EXIT_USAGE)
    relative = [file.relative_to(path) for file in files]
    loose = [str(r) for r in relative if len(r.parts) == 1]
    if branches:
        if loose:
            raise Failure(
                f"--branches: {path} holds files outside its subfolders ({loose[0]}); upload them with --branch",
                EXIT_USAGE,
            )
        return [
            Planned(file, layout.raw_key(_checked_branch(r.parts[0], file), Path(*r.parts[1:]).as_posix()))
            for file, r in zip(files, relative, strict=True)
        ]
    if branch is None and not loose:
        subfolders = sorted({r.parts[0] for r in relative})
        named = ", ".join(f"{name}/" for name in subfolders[:3]) + (", ..." if len(subfolders) > 3 else "")
        raise Failure(
            f"every file under {path} sits in a subfolder ({named}): pass --branches to make each subfolder "
            f"its own branch, or --branch NAME to upload them all to one branch",
            EXIT_USAGE,
        )
    name = branch or _default_branch(path.resolve())
    return [Planned(file, layout.raw_key(name, r.as_posix())) for file, r in zip(files, relative, strict=True)]


def _default_branch(folder: Path) -> str:
    return _checked_branch(folder.name, folder)


def _checked_branch(name: str, where: Path) -> str:
    try:
        return branch_name(name)
    except argparse.ArgumentTypeError as exc:
        raise Failure(f"{where}: {exc}; pass --branch NAME", EXIT_USAGE) from None


def upload(stack: Stack, session: Session, progress: Progress) -> None:
    s3 = stack.s3()
    for planned in session.planned:
        upload_id = uuid.uuid4().hex
        s3.upload_file(
            str(planned.path),
            stack.bucket,
            planned.key,
            ExtraArgs={"Metadata": {layout.UPLOAD_ID: upload_id}},
            Config=TRANSFER,
            Callback=progress.add_bytes,
        )
        session.uploaded.append(Uploaded(planned.path, planned.key, upload_id))
        progress.file_done(planned.key)


def describe(status: FileStatus) -> str:
    state = status.shown_state(time.time())
    if state == REJECTED:
        return f"{status.key}: rejected: {status.reason}"
    skipped = sum(status.skipped.values())
    line = f"{status.key}: {state}, {status.rows_kept} rows kept, {skipped} skipped"
    if skipped:
        line += " (" + ", ".join(f"{k} {v}" for k, v in sorted(status.skipped.items())) + ")"
    return line


def wait(store: Store, files: list[Uploaded], timeout: float, progress: Progress) -> int:
    """Follow each upload (by its upload id, never a previous upload of the same name) until it is
    consolidated or rejected; only a final state is printed as final. Exit 1 when a file was rejected
    (a duplicate of a file already counted included), kept none of its rows, or is not done in time."""
    pending = {f.key: f for f in files}
    prefixes = sorted({layout.status_prefix(layout.branch_of(f.key)) for f in files})
    seen: dict[str, str] = {}
    etags: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    rejected: list[FileStatus] = []
    empty: list[FileStatus] = []
    while pending:
        for prefix in prefixes:
            for status in store.changed_statuses(prefix, etags):
                file = pending.get(status.key)
                if file is None or status.upload_id != file.upload_id:
                    continue
                state = status.shown_state(time.time())
                if status.done:
                    print(describe(status), flush=True)
                    if status.state == REJECTED:
                        rejected.append(status)
                    elif status.rows_read and not status.rows_kept:
                        empty.append(status)
                    del pending[status.key]
                elif seen.get(status.key) != state:
                    seen[status.key] = state
                    progress.say(f"{status.key}: {state}")
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    for key in pending:
        print(f"{key}: not done after {timeout:g}s (state: {seen.get(key, 'pending')})")
    for status in empty:
        print(f"warning: {status.key} kept none of its {status.rows_read} rows: see the reasons above", file=sys.stderr)
    duplicates = [status for status in rejected if status.duplicate_of]
    if duplicates:
        names = ", ".join(f"{s.key} (= {s.duplicate_of})" for s in duplicates)
        print(
            f"refused as duplicates, counted nowhere: {len(duplicates)} file(s) whose content is already counted "
            f"under another name: {names}",
            file=sys.stderr,
        )
    return EXIT_FAILED if rejected or empty or pending else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.upload",
        description="Upload a flow file, or every .csv and .csv.gz under a folder, to "
        "s3://BUCKET/raw/<branch>/<path relative to the folder>. Uploading a file again under the same name "
        "replaces its earlier contribution; a file whose content is already counted under another name (any "
        "branch, plain or gzip) is refused as a duplicate.",
        epilog=exit_codes(
            (
                EXIT_FAILED,
                "a file was rejected (or refused as a duplicate) or kept none of its rows, or the wait "
                "timed out (all with --wait), or AWS refused a request",
            ),
        ),
    )
    parser.add_argument("path", metavar="PATH", type=Path, help="a folder of flow files, or one flow file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--branch",
        type=branch_name,
        help="branch name in the object keys (default: the folder's own name; for a single file, the name of "
        "the folder it is in)",
    )
    where.add_argument(
        "--branches",
        action="store_true",
        help="PATH is a folder of branch folders: each subfolder is uploaded as its own branch",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until each uploaded file is consolidated or rejected; exit 1 if any was rejected (duplicates "
        "included), kept none of its rows, or the wait timed out",
    )
    parser.add_argument("--timeout", type=seconds, default=600, help="seconds --wait waits at most (default: 600)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    session = Session()
    return run_cli(lambda: run(args, session), session.interrupted)


def run(args: argparse.Namespace, session: Session) -> int:
    session.planned = plan(args.path, args.branch, args.branches)
    for planned in session.planned:
        problem = layout.key_problem(planned.key)
        if problem:
            raise Failure(f"{planned.path}: {problem}; shorten its path", EXIT_USAGE)
    stack = Stack.from_args(args, quiet=args.quiet)
    progress = Progress(len(session.planned), sum(p.path.stat().st_size for p in session.planned), quiet=args.quiet)
    with stack.errors():
        try:
            upload(stack, session, progress)
        finally:
            progress.close()
        branches = sorted({layout.branch_of(f.key) for f in session.uploaded})
        where = ", ".join(f"{layout.RAW_PREFIX}{b}/" for b in branches)
        progress.say(f"uploaded {len(session.uploaded)} file(s) to s3://{stack.bucket}/ ({where})")
        if not args.wait:
            return 0
        return wait(stack.store(), session.uploaded, args.timeout, progress)


if __name__ == "__main__":
    raise SystemExit(main())
