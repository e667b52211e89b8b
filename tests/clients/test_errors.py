"""Every documented error exit of the clients: one line on stderr, a distinct code, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from clients import export, status, upload
from tests.conftest import RunningStack


def fails(capsys: pytest.CaptureFixture[str], code: int, call: object) -> str:
    assert call() == code  # type: ignore[operator]
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_invalid_ip_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert "not an IP address" in fails(capsys, 3, lambda: export.main(["10.0.0.300", "10.0.0.1", "--bucket", "b"]))


def test_unknown_pair_exits_4(local_stack: RunningStack, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails(
        capsys, 4, lambda: export.main(["10.255.255.1", "10.255.255.2", "--outputs", str(local_stack.outputs_file)])
    )
    assert "no data for pair" in err


def test_no_bucket_configured_exits_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IOT_BUCKET", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    fails(capsys, 5, lambda: export.main(["10.0.0.1", "10.0.0.2", "--outputs", str(tmp_path / "none.json")]))


def test_missing_bucket_exits_5(
    local_stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.outputs["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    err = fails(
        capsys, 5, lambda: export.main(["10.0.0.1", "10.0.0.2", "--bucket", "no-such-bucket", "--outputs", "x"])
    )
    assert "does not exist" in err


def test_unreachable_endpoint_exits_6(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    err = fails(capsys, 6, lambda: export.main(["10.0.0.1", "10.0.0.2", "--bucket", "b", "--outputs", "x"]))
    assert "cannot reach http://127.0.0.1:9" in err


def test_a_stale_outputs_file_exits_6_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "outputs.json"
    stale.write_text('{"bucket_name": "b", "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1"}')
    err = fails(capsys, 6, lambda: export.main(["10.0.0.1", "10.0.0.2", "--outputs", str(stale)]))
    assert "python -m local up" in err and "stale" in err


def test_a_connect_timeout_exits_6(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.exceptions import ConnectTimeoutError

    def blackhole(**_: object) -> None:
        raise ConnectTimeoutError(endpoint_url="http://192.0.2.1:4566")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    real_client = boto3.client

    def client(*args: object, **kwargs: object) -> object:
        made = real_client(*args, **kwargs)  # type: ignore[call-overload]
        made.meta.events.register("before-send", blackhole)
        return made

    monkeypatch.setattr(boto3, "client", client)
    err = fails(capsys, 6, lambda: export.main(["10.0.0.1", "10.0.0.2", "--bucket", "b", "--outputs", "x"]))
    assert "ConnectTimeoutError" in err


def test_upload_of_a_folder_without_flow_files_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no .csv" in fails(capsys, 2, lambda: upload.main([str(tmp_path), "--bucket", "b"]))


def test_status_lists_files_and_dlq_depths(local_stack: RunningStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert status.main(["--outputs", str(local_stack.outputs_file)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ingest_dlq: \d+ message\(s\)$", out, re.M)
    assert re.search(r"^consolidate_dlq: \d+ message\(s\)$", out, re.M)


def test_wait_timeout_exits_1(local_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.5.5.5,10.5.5.6,2024-01-01 10:00:00,1,1\n"
    )
    code = upload.main([str(folder), "--wait", "--timeout", "0", "--quiet", "--outputs", str(local_stack.outputs_file)])
    assert code == 1
    assert "raw/slow/a.csv: not done after 0s" in capsys.readouterr().out


def test_status_filters_by_branch_and_state(
    local_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "filtered"
    folder.mkdir()
    (folder / "bad.csv").write_text("nothing useful\n")
    (folder / "good.csv").write_text(
        "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n10.6.6.6,10.6.6.7,2024-01-01 10:00:00,1,1\n"
    )
    assert upload.main([str(folder), "--wait", "--quiet", "--outputs", str(local_stack.outputs_file)]) == 1
    capsys.readouterr()
    assert status.main(["--branch", "filtered", "--state", "rejected", "--outputs", str(local_stack.outputs_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("raw/filtered/bad.csv: rejected: missing required column(s)")
    assert lines[1] == "1 file(s)"


def test_clients_take_bucket_and_region_from_the_outputs_alone(
    local_stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "IOT_BUCKET", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert status.main(["--outputs", str(local_stack.outputs_file)]) == 0
    assert f"using local stack ({local_stack.outputs_file})" in capsys.readouterr().err
