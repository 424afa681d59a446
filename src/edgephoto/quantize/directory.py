"""Quantize an existing float artifact directory (manifest.json + file) into a sibling one.

ONNX and OpenVINO quantize the artifact file itself; targets that need another format of the
model (TFLite re-converts the SavedModel) rebuild it from the zoo spec named in the manifest.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgephoto.convert.public import ConvertContext, rebuild_as, target_info
from edgephoto.errors import InputFileError, InvalidOptionError
from edgephoto.files import install_dir
from edgephoto.manifest import (
    artifact_location,
    file_entries,
    read_manifest,
    verify,
    write_manifest,
)
from edgephoto.zoo.spec import ModelSpec


def _artifact_file(directory: Path, manifest: dict[str, Any], suffix: str) -> Path:
    path = directory / f"{manifest['model']}{suffix}"
    if not path.exists():
        raise InputFileError(path, f"the {manifest['target']} artifact named by manifest.json is missing")
    return path


def quantize_directory(
    artifact_dir: Path,
    precision: str,
    out_dir: Path | None = None,
    *,
    options: dict[str, Any] | None = None,
    weights_dirs: list[Path] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[Path, dict[str, Any]]:
    """Quantize `artifact_dir` (an fp32 artifact) to `precision`; returns (new dir, accuracy).

    The new directory is `out_dir/<model>/<target>-<precision>` (default: beside the input).
    """
    from edgephoto.convert.api import metadata_for, tool_versions
    from edgephoto.quantize import quantize_artifact
    from edgephoto.zoo import MODELS

    manifest = read_manifest(artifact_dir)
    verify(artifact_dir, manifest)
    if manifest.get("precision") != "fp32":
        raise InvalidOptionError(
            f"{artifact_dir} is {manifest.get('precision')}; quantize from the fp32 artifact")
    zoo = manifest["model"] in MODELS and manifest.get("upstream") == MODELS.get(manifest["model"]).upstream
    spec = MODELS.get(manifest["model"]) if zoo else ModelSpec.from_manifest(manifest)  # a user's own model
    target = target_info(manifest["target"])
    source = _artifact_file(artifact_dir, manifest, target.suffix)
    out_root = Path(out_dir) if out_dir is not None else artifact_dir.parent.parent
    out_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".quantize-{spec.name}-", dir=out_root) as scratch:
        work = Path(scratch)
        reached: dict[str, Path] = {}

        def reach(node: str) -> Path:
            """Rebuild the model in format `node` from its zoo weights (once)."""
            if not zoo:
                raise InvalidOptionError(
                    f"{target.name} {precision} rebuilds the model as {node}, which needs its source: "
                    f"run `edgephoto convert {manifest.get('upstream') or 'MODEL_FILE'} --target "
                    f"{target.name} --quantize {precision}`")
            if node not in reached:
                from edgephoto.zoo.weights import resolve

                root = resolve(spec, progress=progress, local_dirs=weights_dirs or None)
                ctx = ConvertContext(spec, work / node, {"metadata": metadata}, progress)
                reached[node] = rebuild_as(root / spec.files[0].path, node, ctx)
            return reached[node]

        metadata = metadata_for(spec, target.name, precision)
        ctx = ConvertContext(spec, work / "quantize",
                             {**(options or {}), "reach": reach, "metadata": metadata}, progress)
        ctx.workdir.mkdir(parents=True)
        built, accuracy = quantize_artifact(source, target.name, precision, ctx)
        staging = work / "artifact"
        staging.mkdir()
        artifact = staging / f"{spec.name}{target.suffix}"
        (shutil.copytree if built.is_dir() else shutil.copy2)(built, artifact)
        files = [artifact]
        for companion in target.companion_files(built):  # OpenVINO's .bin beside its .xml
            shutil.copy2(companion, artifact.with_suffix(companion.suffix))
            files.append(artifact.with_suffix(companion.suffix))
        write_manifest(staging, {
            **{k: v for k, v in manifest.items() if k != "schema"},
            "precision": precision,
            "files": file_entries(staging, files),
            "parity": {},
            "accuracy": accuracy,
            "quantized_from": str(artifact_dir),
            "tools": tool_versions(),
            "notes": list(dict.fromkeys([*manifest.get("notes", []), *ctx.notes])),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
        final = artifact_location(out_root, spec.name, target.name, precision)
        final.parent.mkdir(parents=True, exist_ok=True)
        install_dir(staging, final)  # the old one stays until the new one is in place
    return final, accuracy
