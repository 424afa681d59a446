"""The artifact manifest: what an artifact is, how to feed it, and how it was checked.

Written as manifest.json beside the artifact's files; `verify` re-hashes every file so a runtime
never runs a tampered or truncated artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgephoto.errors import HashMismatchError, InputFileError
from edgephoto.files import sha256_file, write_bytes_atomic

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


def artifact_location(root: Path, model: str, target: str, precision: str = "fp32") -> Path:
    """Where an artifact of `model` lives under an output root, as `edgephoto convert --out` and
    `quantize` lay them out (and `run --artifacts`, bench and the zoo cache read them)."""
    return Path(root) / model / f"{target}-{precision}"


def file_entries(root: Path, paths: list[Path]) -> list[dict[str, Any]]:
    """sha256 and size of each artifact file (directories such as .mlpackage are walked)."""
    entries = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            entries.append(
                {
                    "path": file.relative_to(root).as_posix(),
                    "sha256": sha256_file(file),
                    "bytes": file.stat().st_size,
                }
            )
    return entries


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same directory, then rename over the target."""
    write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=False, default=str) + "\n").encode())


def write_manifest(artifact_dir: Path, manifest: dict[str, Any]) -> Path:
    manifest = {"schema": SCHEMA_VERSION, **manifest}
    path = artifact_dir / MANIFEST_NAME
    write_json_atomic(path, manifest)
    return path


def read_manifest(artifact: Path) -> dict[str, Any]:
    """Read the manifest of an artifact directory (or of the directory holding an artifact file)."""
    directory = artifact if artifact.is_dir() and not artifact.suffix else artifact.parent
    path = directory / MANIFEST_NAME
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise InputFileError(path, "no manifest.json: not an edgephoto artifact") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"corrupt manifest ({exc.msg})") from None


def verify(artifact_dir: Path, manifest: dict[str, Any] | None = None) -> None:
    """Raise HashMismatchError / InputFileError unless every listed file matches its sha256."""
    manifest = manifest or read_manifest(artifact_dir)
    for entry in manifest.get("files", []):
        path = artifact_dir / entry["path"]
        if not path.is_file():
            raise InputFileError(path, "listed in the manifest but missing")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise HashMismatchError(path, entry["sha256"], actual)
