"""Measure what the SDK layer costs a function's cold start, as the local stack starts a function process:
`python -m local.coldstart [RUNS]`. Each run is a fresh interpreter that imports the handler module and
makes the S3 client the handler makes at its first invocation (with storage.store.check_sdk), with
PYTHONPATH = function code + core layer, then + the SDK layer (whose boto3 then wins, as on Lambda).
Prints the median and quartiles of each, the layer's size unzipped and zipped."""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from infra import sdk

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import handlers.summarize, handlers.consolidate, boto3, botocore, storage.store as s; "
    "s.check_sdk(boto3.client('s3', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x'))"
)


def _layout(target: Path) -> tuple[Path, Path]:
    """The function code and the core layer as Lambda unpacks them: task/ and core/python/."""
    for package, where in (("handlers", "task"), ("storage", "task"), ("core", "core/python")):
        for path in (ROOT / package).rglob("*.py"):
            destination = target / where / path.relative_to(ROOT)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())
    return target / "task", target / "core" / "python"


def _seconds(paths: Sequence[Path]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(map(str, paths))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=paths[0], check=True)
    return time.perf_counter() - started


def zipped_size(folder: Path) -> int:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, path in sdk.layer_files(folder).items():
            zipped.write(path, name)
    return archive.tell()


def main(argv: Sequence[str] | None = None) -> int:
    runs = int((argv if argv is not None else sys.argv[1:] or ["15"])[0])
    layer = sdk.build()
    with tempfile.TemporaryDirectory() as folder:
        task, core = _layout(Path(folder))
        setups = {"runtime SDK (no layer)": [task, core], "with the SDK layer": [task, core, layer / "python"]}
        times: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(runs):  # interleaved, so a busy moment weighs on both alike
            for name, paths in setups.items():
                times[name].append(_seconds(paths))
    for name, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"{name}: median {median * 1000:.0f} ms (quartiles {q1 * 1000:.0f}-{q3 * 1000:.0f} ms, {runs} runs)")
    unzipped = sum(path.stat().st_size for path in sdk.layer_files(layer).values())
    print(f"SDK layer: {unzipped / 2**20:.1f} MB unzipped, {zipped_size(layer) / 2**20:.1f} MB zipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
