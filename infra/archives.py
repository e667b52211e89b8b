"""Lambda archives: the function code holds handlers/ and storage/ only, the layer holds python/core/ only."""

from __future__ import annotations

from pathlib import Path

import pulumi

ROOT = Path(__file__).resolve().parent.parent


def _python_files(package: Path, prefix: str) -> dict[str, pulumi.Asset | pulumi.Archive]:
    return {
        f"{prefix}{path.relative_to(package.parent).as_posix()}": pulumi.FileAsset(str(path))
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def layer_archive(core: Path = ROOT / "core") -> pulumi.AssetArchive:
    return pulumi.AssetArchive(_python_files(core, "python/"))


def function_archive(packages: tuple[Path, ...] = (ROOT / "handlers", ROOT / "storage")) -> pulumi.AssetArchive:
    files: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for package in packages:
        files.update(_python_files(package, ""))
    return pulumi.AssetArchive(files)
