"""Lambda archives: the function code holds handlers/ only, the layer holds python/core/ only."""

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


def function_archive(handlers: Path = ROOT / "handlers") -> pulumi.AssetArchive:
    return pulumi.AssetArchive(_python_files(handlers, ""))
