from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


STACK_FIXTURE_SUFFIX = "_stack"
"""A fixture named so (local_stack, chaos_stack, people_stack, ...) starts a local stack: its tests are e2e."""
SHARED_STACK = "local-stack"
"""The xdist group of every test on the session's local stack: one stack per run, as without xdist."""


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs a local stack is `e2e`, every other one `unit` (`nox -s unit`). Under xdist
    (`--dist loadgroup`) tests that share state share a worker (see group_of); the others spread.
    Order: e2e tests first, as they are the long ones (a stack's start, real waits): under xdist
    (`--no-loadscope-reorder`, noxfile.py) the groups are handed out in this order, so the short unit
    tests fill both workers at the end instead of one worker ending on a long e2e module alone. Tests
    marked `last` check what the others did (e.g. the AWS calls they caused): they run at the end."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        e2e = (
            any(name.endswith(STACK_FIXTURE_SUFFIX) for name in fixtures) or item.get_closest_marker("e2e") is not None
        )
        item.add_marker(pytest.mark.e2e if e2e else pytest.mark.unit)
        group = group_of(item, fixtures)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: (item.get_closest_marker("last") is not None, item.get_closest_marker("e2e") is None))


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test starts a stack
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under `--dist loadgroup`, xdist's own collection hook (after the one above) names each grouped test
    `nodeid@group`, and its scheduler groups by that suffix. pytest 9.2 made node ids immutable and xdist
    still writes the old field (pytest-xdist issue 1386): the groups are then silently ignored, every
    worker starts its own local stack and module fixtures, and `last` tests see only their worker's
    records. A grouped test that lost its group fails, saying so, rather than run so."""
    grouped = any(item.iter_markers("xdist_group"))
    if grouped and item.config.getoption("loadgroup", default=False) and "@" not in item.nodeid:
        pytest.fail(
            f"--dist loadgroup does not group with pytest {pytest.__version__} and this xdist (pytest-xdist "
            "issue 1386): this test lost its group; install the versions pyproject.toml pins",
            pytrace=False,
        )


def group_of(item: pytest.Item, fixtures: set[str]) -> str | None:
    """The session's local stack is one per worker: its tests share one worker, so one stack serves them all.
    A module, class or package fixture is built once per worker: its tests stay together."""
    path = Path(str(item.path)).relative_to(ROOT)
    if "local_stack" in fixtures:
        return SHARED_STACK
    definitions = getattr(item, "_fixtureinfo", None)
    scopes = {d.scope for defs in (definitions.name2fixturedefs.values() if definitions else ()) for d in defs}
    return path.as_posix() if scopes & {"module", "class", "package"} else None


def _build_moto_url_tables_once() -> None:
    """moto in-process builds a service's table of URL patterns for every request it answers (S3's by
    reloading its urls module, in case an environment variable for custom endpoints changed, which these
    tests never set): a quarter of the time of an in-process S3 call. The table depends on the backend's
    class alone here, so it is built once per class. The local stack runs moto's server, which builds its
    URL map once at start: this only speeds up the in-process tests."""
    from moto.core.base_backend import BaseBackend

    build = BaseBackend.urls.fget
    tables: dict[type, Any] = {}

    def urls(backend: BaseBackend) -> Any:
        kind = type(backend)
        if kind not in tables:
            tables[kind] = build(backend)
        return tables[kind]

    BaseBackend.urls = property(urls)  # type: ignore[method-assign,assignment]


_build_moto_url_tables_once()


def moto_world() -> Any:
    """moto in-process, keeping boto3's default session: by default moto replaces it at every start, and each
    client of a fresh session loads its service model again (0.15 s for S3), which was most of the time of
    the tests that build a new world for every call they crash at. The session holds no AWS state."""
    return mock_aws(config={"core": {"reset_boto3_session": False}})


class RunningStack:
    def __init__(self, outputs_file: Path, outputs: dict[str, Any]) -> None:
        self.outputs_file = outputs_file
        self.outputs = outputs
        self.bucket: str = outputs["bucket_name"]
        self.trace = outputs_file.parent / "trace"
        self.log = outputs_file.parent / "stack.log"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["endpoint_url"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def traffic_stats(self, done: Callable[[list[str]], bool], timeout: float = 180) -> list[str]:
        """traffic_stats.csv's rows once `done` holds for them: it is rebuilt by the consolidator's tick,
        statsRebuildSeconds (scaled by TIME_SCALE) after a consolidation, not by the consolidation."""
        s3 = self.client("s3")
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = s3.get_object(Bucket=self.bucket, Key="consolidated/traffic_stats.csv")["Body"].read()
                rows = body.decode().splitlines()[1:]
            except s3.exceptions.NoSuchKey:
                rows = []
            if done(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)


TIME_SCALE = 0.05
"""The emulator's waits in tests (a failed message's visibility timeout, DelaySeconds, a lifecycle day), scaled:
the poison messages reach their DLQs after 4 redeliveries in seconds instead of 4 x 30-60 s. The functions'
timeouts are not scaled, so a running invocation's messages stay hidden as in Lambda."""

STACK_CONFIG = (
    # Short timeouts so retries and the DLQ (after 5 receives, 6 x timeout apart) take seconds, not hours.
    "summarizeTimeout=10",
    "consolidateTimeout=30",
    "summarizeMaxConcurrency=8",
    "consolidateMaxConcurrency=8",
)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`python -m local up` as a subprocess on a free port, 8 workers per mapping, every message delivered
    twice; stopped with SIGTERM at the end."""
    yield from start_stack(tmp_path_factory.mktemp("stack"), STACK_CONFIG)


def start_stack(folder: Path, config: tuple[str, ...], *extra: str) -> Iterator[RunningStack]:
    outputs_file = folder / "outputs.json"
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
            "--exit-with-parent",
            "--trace",
            str(outputs_file.parent / "trace"),
            f"--time-scale={TIME_SCALE}",
            *(f"--config={item}" for item in config),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(outputs_file.parent / "stack.log").open("w"),  # the functions' JSON logs, for a failing test
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
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # leave nothing running; stack.log gets every thread's stack first
            process.send_signal(signal.SIGUSR1)
            time.sleep(2)
            process.kill()
            process.wait()
            raise
