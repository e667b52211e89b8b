"""clients.upload, status and rebuild as a user runs them: the one line they print and their exit code."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from clients import rebuild, status, upload
from clients.common import Stack
from core import layout
from handlers import consolidate, summarize
from tests.handlers.conftest import FakeContext, moto_bucket, s3_notification, sqs_event
from tests.handlers.test_crashes import drain

ROOT = Path(__file__).resolve().parents[2]
HEADER = b"Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
LOG = HEADER + b"10.0.0.1,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n"
ALL_SKIPPED = HEADER + b"not-an-ip,8.8.8.8,01/12/2022 10:00:00 AM,100,3\n10.0.0.1,8.8.8.8,never,1,1\n"
STACK = ["--bucket", "data", "--outputs", "none.json"]


def write(path: Path, body: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def one_error(capsys: pytest.CaptureFixture[str], code: int, argv: list[str], main: Any = upload.main) -> str:
    """Run a client; it exits `code` with exactly one `error:` line on stderr and no traceback."""
    assert main(argv) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], main: Any = upload.main) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def pipeline(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto bucket in-process; before --wait follows its files, the handlers run on them, as the
    deployed functions would."""
    with moto_bucket(monkeypatch) as s3:
        follow = upload.wait

        def processed_then_wait(store: Any, files: list[upload.Uploaded], *args: Any) -> int:
            for file in files:
                event = sqs_event(s3_notification(file.key))
                assert summarize.handler(event, FakeContext()) == {"batchItemFailures": []}
            url = summarize.summarize_settings().consolidate_queue_url
            assert consolidate.handler(sqs_event(*drain(url)), FakeContext()) == {"batchItemFailures": []}
            return follow(store, files, *args)

        monkeypatch.setattr(upload, "wait", processed_then_wait)
        yield s3


def keys(s3: Any, prefix: str = layout.STATUS_PREFIX) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket="data", Prefix=prefix).get("Contents", [])]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--branch", "a/b"], "'a/b' is not a branch name"),
        (["--branch", ""], "'' is not a branch name"),
        (["--timeout", "-5"], "must be zero or more"),
        (["--timeout", "soon"], "'soon' is not a number of seconds"),
        (["--branch", "x", "--branches"], "not allowed with argument"),
    ],
)
def test_bad_values_are_usage_errors_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    write(tmp_path / "paris" / "log.csv", LOG)
    assert message in usage_error(capsys, [str(tmp_path / "paris"), *argv, *STACK])


def test_paths_are_checked_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such file or folder" in one_error(capsys, 2, [str(tmp_path / "missing"), *STACK])
    text = write(tmp_path / "notes.txt", b"x")
    assert "not a .csv or .csv.gz file" in one_error(capsys, 2, [str(text), *STACK])
    write(tmp_path / "sites" / "rome" / "a.csv", LOG)
    write(tmp_path / "sites" / "oslo" / "b.csv", LOG)
    err = one_error(capsys, 2, [str(tmp_path / "sites"), *STACK])
    assert "oslo/, rome/" in err and "--branches" in err and "--branch NAME" in err
    write(tmp_path / "sites" / "loose.csv", LOG)
    assert "outside its subfolders (loose.csv)" in one_error(capsys, 2, [str(tmp_path / "sites"), "--branches", *STACK])


def test_a_single_file_goes_to_its_folders_branch_or_to_branch(pipeline: Any, tmp_path: Path) -> None:
    log = write(tmp_path / "paris" / "log.csv", LOG)
    assert upload.main([str(log), "--wait", "--quiet", *STACK]) == 0
    other = write(tmp_path / "paris" / "other.csv.gz", gzip.compress(LOG.replace(b",100,", b",7,")))
    assert upload.main([str(other), "--branch", "lyon", "--wait", "--quiet", *STACK]) == 0
    assert keys(pipeline) == ["status/lyon/other.csv.gz.json", "status/paris/log.csv.json"]


def test_branches_makes_each_subfolder_a_branch(pipeline: Any, tmp_path: Path) -> None:
    write(tmp_path / "sites" / "rome" / "day" / "a.csv", LOG)
    write(tmp_path / "sites" / "oslo" / "b.csv", LOG.replace(b",100,", b",5,"))
    assert upload.main([str(tmp_path / "sites"), "--branches", "--wait", "--quiet", *STACK]) == 0
    assert keys(pipeline) == ["status/oslo/b.csv.json", "status/rome/day/a.csv.json"]


def test_wait_names_the_duplicates_and_exits_1(
    pipeline: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "paris" / "log.csv", LOG)
    assert upload.main([str(tmp_path / "paris"), "--wait", "--quiet", *STACK]) == 0
    write(tmp_path / "oslo" / "copy.csv.gz", gzip.compress(LOG))
    capsys.readouterr()
    assert upload.main([str(tmp_path / "oslo"), "--wait", "--quiet", *STACK]) == 1
    out, err = capsys.readouterr()
    assert "raw/oslo/copy.csv.gz: rejected: same content as raw/paris/log.csv" in out
    assert "refused as duplicates, counted nowhere: 1 file(s)" in err
    assert "raw/oslo/copy.csv.gz (= raw/paris/log.csv)" in err


def test_wait_warns_and_exits_1_when_a_file_kept_none_of_its_rows(
    pipeline: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "paris" / "log.csv", ALL_SKIPPED)
    assert upload.main([str(tmp_path / "paris"), "--wait", "--quiet", *STACK]) == 1
    out, err = capsys.readouterr()
    assert "raw/paris/log.csv: consolidated, 0 rows kept, 2 skipped" in out
    assert "warning: raw/paris/log.csv kept none of its 2 rows" in err


def test_ctrl_c_during_the_upload_says_what_went_up_and_how_to_resume(
    pipeline: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(3):
        write(tmp_path / "paris" / f"f{n}.csv", LOG)
    made = Stack.s3

    def interrupted_at_the_second_file(self: Stack) -> Any:
        client = made(self)
        send = client.upload_file

        def upload_file(path: str, *args: Any, **kwargs: Any) -> None:
            if path.endswith("f1.csv"):
                raise KeyboardInterrupt  # what Ctrl-C raises in the main thread
            send(path, *args, **kwargs)

        client.upload_file = upload_file  # type: ignore[method-assign]
        return client

    monkeypatch.setattr(Stack, "s3", interrupted_at_the_second_file)
    assert upload.main([str(tmp_path / "paris"), "--quiet", *STACK]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("interrupted: uploaded 1 of 3 file(s) (the last: raw/paris/f0.csv); not uploaded: 2")
    assert "run the same command again" in err[0]
    assert keys(pipeline, layout.RAW_PREFIX) == ["raw/paris/f0.csv"]


@pytest.mark.parametrize(
    ("main", "own", "foreign"),
    [
        (upload.main, ["1 a file was rejected", "2 bad usage", "130 interrupted"], ["3 invalid IP", "4 unknown pair"]),
        (
            status.main,
            ["2 bad usage", "5 bucket", "6 endpoint"],
            ["3 invalid IP", "4 unknown pair", "1 a file was rejected"],
        ),
        (
            rebuild.main,
            ["1 files are in flight", "130 interrupted"],
            ["3 invalid IP", "4 unknown pair", "1 a file was rejected"],
        ),
    ],
)
def test_each_help_lists_only_its_own_exit_codes(
    capsys: pytest.CaptureFixture[str], main: Any, own: list[str], foreign: list[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(code in text for code in own), text
    assert not any(code in text for code in foreign), text


def test_status_rejects_a_bad_branch(capsys: pytest.CaptureFixture[str]) -> None:
    assert "'a/b' is not a branch name" in usage_error(capsys, ["--branch", "a/b", *STACK], status.main)


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[dict[str, str]]:
    """moto as a server on 127.0.0.1, with a bucket "data": the environment a client process needs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="data")
    env = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    try:
        yield {**os.environ, **env, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
    finally:
        server.stop()


def client_process(env: dict[str, str], *argv: str, **options: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *argv, *STACK], cwd=ROOT, env=env, text=True, stderr=subprocess.PIPE, **options
    )


def test_ctrl_c_during_wait_exits_130_with_one_line(moto_server: dict[str, str], tmp_path: Path) -> None:
    write(tmp_path / "paris" / "a.csv", LOG)
    write(tmp_path / "paris" / "b.csv", LOG)
    process = client_process(moto_server, "clients.upload", str(tmp_path / "paris"), "--wait", stdout=subprocess.PIPE)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # nothing processes the files: --wait waits until interrupted
        lines.append(line)
        if line.startswith("uploaded 2 file(s)"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        "interrupted: all 2 file(s) were uploaded and are being processed; follow them with `python -m clients.status`"
    ]


def test_a_closed_pipe_ends_quietly(moto_server: dict[str, str]) -> None:
    process = client_process(moto_server, "clients.status", stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # as `| head -0` would: the reader is gone before the first line
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
