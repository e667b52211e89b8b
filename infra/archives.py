"""Lambda archives: the function code holds handlers/ and storage/ only; the core layer holds python/core/
only; the SDK layer holds python/ of the locked boto3 and its dependencies (infra.sdk)."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra import sdk

ROOT = Path(__file__).resolve().parent.parent


def _python_files(package: Path, prefix: str) -> dict[str, pulumi.Asset | pulumi.Archive]:
    return {
        f"{prefix}{path.relative_to(package.parent).as_posix()}": pulumi.FileAsset(str(path))
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def layer_archive(core: Path = ROOT / "core") -> pulumi.AssetArchive:
    return pulumi.AssetArchive(_python_files(core, "python/"))


def sdk_layer_archive(lock: Path = sdk.LOCK) -> pulumi.AssetArchive:
    files = sdk.layer_files(sdk.build(lock))
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in files.items()})


def function_archive(packages: tuple[Path, ...] = (ROOT / "handlers", ROOT / "storage")) -> pulumi.AssetArchive:
    files: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for package in packages:
        files.update(_python_files(package, ""))
    return pulumi.AssetArchive(files)
