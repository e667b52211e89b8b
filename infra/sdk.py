"""The SDK layer: boto3/botocore pinned by sdk-layer.lock, installed by pip with every hash checked.

AWS does not pin the boto3 a Lambda runtime bundles ("may change without notice") and advises a layer
to lock it. The install is for the functions' platform (arm64, CPython 3.13) whatever the machine
running `pulumi up`, wheels only, no bytecode and no console scripts, so the same lock gives the same
files everywhere. It is cached in build/sdk-layer/<hash of the lock>/: a deploy after the first
installs nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

import pulumi

ROOT = Path(__file__).resolve().parent.parent
LOCK: Final = ROOT / "sdk-layer.lock"
CACHE: Final = ROOT / "build" / "sdk-layer"
PLATFORM: Final = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13")
"""The functions' architecture and runtime (infra.worker): pip picks the wheels Lambda will run."""


class LayerBuildError(pulumi.RunError):
    """pip could not install the lock (no registry, a hash mismatch): the deploy stops before any change."""


def build(lock: Path = LOCK, cache: Path = CACHE) -> Path:
    """The folder whose python/ holds the locked SDK (Lambda puts a layer's python/ on sys.path)."""
    target = cache / hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    if (target / "python").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        *PLATFORM,
        "--no-compile",
        "--target",
        str(staging / "python"),
        "--requirement",
        str(lock),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LayerBuildError(f"building the SDK layer from {lock.name} failed: {done.stderr.strip()[-800:]}")
    shutil.rmtree(staging / "python" / "bin", ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another deploy or test process built it first: theirs is the same
        shutil.rmtree(staging, ignore_errors=True)
    return target


def layer_files(folder: Path) -> dict[str, Path]:
    """Archive name -> file, for every file of the built layer (botocore's data files included)."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
