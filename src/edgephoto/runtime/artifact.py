"""Load an artifact directory: check every file's sha256, pick the backend, load the model.

The manifest (edgephoto.manifest) lists the files, the target and the tensors; the model file
is the listed file whose suffix the backend loads (.onnx, .tflite, .xml, .mlpackage).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from edgephoto import manifest as manifest_io
from edgephoto.errors import InputFileError, InvalidOptionError
from edgephoto.runtime.backends import (
    BACKENDS,
    Backend,
    BackendInfo,
    backend_for_target,
    load_backend,
)


def default_backend(manifest: dict[str, Any]) -> str:
    """The backend for the manifest's target, else the first backend that loads a listed file."""
    target = manifest.get("target")
    own = backend_for_target(target)
    if own is not None:
        return own
    for name, info in BACKENDS:
        if info.suffixes and _find_model(manifest, info) is not None:
            return name
    raise InvalidOptionError(
        f"no backend runs target '{target}' (files: "
        f"{', '.join(e['path'] for e in manifest.get('files', []))}); pass backend=..."
    )


def own_engine_reason(manifest: dict[str, Any], name: str) -> str:
    """Why the artifact's own engine runs it, with the measured table's word on that engine for
    this model on this CPU class (zoo/fastest_engines.json), or that nobody measured it there and
    where the default order puts it (`run --artifacts` picks among a model's artifacts by it)."""
    from edgephoto.errors import EdgePhotoError
    from edgephoto.runtime.auto import auto_backend
    from edgephoto.zoo.fastest import load_table

    own = f"{name}: the artifact's own engine (target {manifest.get('target')})"
    model, precision = str(manifest.get("model")), str(manifest.get("precision", "fp32"))
    try:
        table = load_table(backends=tuple(BACKENDS.names()))
        verdict = auto_backend(model, precision, usable=lambda other: other == name, table=table)
    except EdgePhotoError:  # no table verdict: the plain fact still holds
        return own
    return f"{own}; {verdict.basis}"


def loads(manifest: dict[str, Any], backend: str) -> bool:
    """Whether `backend` finds a model file it loads among the manifest's files."""
    return _find_model(manifest, BACKENDS.get(backend)) is not None


def _find_model(manifest: dict[str, Any], info: BackendInfo) -> str | None:
    """Relative path of the model file (or bundle directory) this backend loads."""
    files = [PurePosixPath(e["path"]) for e in manifest.get("files", [])]
    for suffix in info.suffixes:  # the backend's preferred suffix first
        for path in files:
            for depth in range(1, len(path.parts) + 1):  # .mlpackage is a directory
                prefix = PurePosixPath(*path.parts[:depth])
                if prefix.suffix == suffix:
                    return prefix.as_posix()
    if not info.suffixes and files:
        return files[0].as_posix()
    return None


def load_artifact(
    path: str | Path,
    *,
    backend: str | None = None,
    device: str = "auto",
    verify: bool = True,
    reason: str | None = None,
    **options: Any,
) -> tuple[Backend, dict[str, Any]]:
    """(loaded Backend, manifest) for an artifact directory (or a file inside one).

    Every listed file is re-hashed first (HashMismatchError on tamper, InputFileError when one
    is missing); `verify=False` skips that for a caller that has just checked. The backend's
    `reason` records why it runs: `reason` when the caller chose it by a rule of its own, else
    "named by the caller" or "the artifact's own engine".
    """
    path = Path(path)
    root = path if path.is_dir() and not path.suffix else path.parent
    manifest = manifest_io.read_manifest(root)
    if verify:
        manifest_io.verify(root, manifest)
    name = backend or default_backend(manifest)
    if reason is None:
        reason = f"{name}: named by the caller" if backend else own_engine_reason(manifest, name)
    info = BACKENDS.get(name)
    relative = _find_model(manifest, info)
    if relative is None:
        raise InputFileError(
            root, f"no file for backend '{name}' (it loads {', '.join(info.suffixes)})"
        )
    loaded = load_backend(name, root / relative, device=device, **options)
    loaded.reason = reason
    return loaded, manifest
