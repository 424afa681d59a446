"""`edgephoto quantize`: an existing fp32 artifact directory to fp16 / int8 / ... with its
accuracy measured on held-out real photos and guarded."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.errors import ConversionError, InvalidOptionError, LicenceNotAcceptedError


def quantization_options(command: Callable[..., None]) -> Callable[..., None]:
    """The calibration / guard options shared by `edgephoto quantize` and `edgephoto convert`."""
    for option in reversed([
        click.option("--calib", "calib_dir", type=click.Path(path_type=Path),
                     help="Directory of real photos to calibrate on (default: the built-in photos)."),
        click.option("--subset-size", type=int, default=None, help="Calibration samples (default 64)."),
        click.option("--accuracy-control", is_flag=True,
                     help="Keep the most sensitive layers float until the drop is within the limit."),
        click.option("--edges-float/--edges-int8", "float_edges", default=None,
                     help="Keep the edge layers float: first conv and output head (default: on for "
                          "upscalers and segmentation/matting, where int8 there costs dB or IoU)."),
        click.option("--max-drop", type=float, default=None,
                     help="Allowed drop of the task metric (dB PSNR, IoU or delta1 points)."),
    ]):
        command = option(command)
    return command


def quantization_settings(calib_dir: Path | None, subset_size: int | None, accuracy_control: bool,
                          float_edges: bool | None, max_drop: float | None) -> dict[str, Any]:
    """Those options as the `options` dict quantize_artifact reads (unset ones left out)."""
    settings: dict[str, Any] = {"calib_dir": calib_dir, "subset_size": subset_size,
                                "accuracy_control": accuracy_control, "max_drop": max_drop,
                                "float_edges": float_edges}
    return {k: v for k, v in settings.items() if v is not None}


@click.command("quantize")
@click.argument("artifact_or_model")
@click.option("--precision", "-p", required=True, help="Target precision (per target: fp16, int8, ...).")
@click.option("--target", "-t", "target_name", help="With a zoo MODEL name: the target to build it for.")
@quantization_options
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path),
              help="Output root (default: beside ARTIFACT_DIR, as <model>/<target>-<precision>; "
                   "'artifacts' for a MODEL).")
@click.option("--weights-dir", "weights_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Local zoo weights directory (targets that rebuild from the source).")
@click.option("--accept-licence", "accepted", multiple=True, metavar="LICENCE",
              help="With a zoo MODEL: opt in to its non-permissive licence (e.g. AGPL-3.0).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(artifact_or_model: str, precision: str, target_name: str | None, calib_dir: Path | None,
            subset_size: int | None, accuracy_control: bool, float_edges: bool | None,
            max_drop: float | None, out_dir: Path | None, weights_dirs: tuple[Path, ...],
            accepted: tuple[str, ...], as_json: bool) -> None:
    """Quantize an fp32 artifact directory (made by `edgephoto convert`), or a zoo MODEL for
    --target (converted to fp32 first), to PRECISION with its accuracy measured and guarded."""
    from edgephoto.quantize.directory import quantize_directory

    options = quantization_settings(calib_dir, subset_size, accuracy_control, float_edges, max_drop)
    artifact_dir = Path(artifact_or_model)
    if not artifact_dir.is_dir():
        artifact_dir = _float_artifact(artifact_or_model, target_name, out_dir, weights_dirs, accepted, as_json)
    elif target_name is not None:
        raise InvalidOptionError("--target goes with a zoo MODEL name; an artifact directory has its target")
    with progress_display(not as_json or sys.stderr.isatty()) as progress:
        final, accuracy = quantize_directory(artifact_dir, precision, out_dir, options=options,
                                             weights_dirs=list(weights_dirs), progress=progress)
    if as_json:
        emit_json({"path": str(final), "precision": precision, "accuracy": accuracy})
        return
    limit = accuracy.get("limit", {})
    rows = [[str(final), precision, accuracy.get("method", ""),
             f"{accuracy['drop']:.3f} {limit.get('unit', '')}" if "drop" in accuracy else "not measured",
             f"{limit.get('max_drop', '')}", ", ".join(accuracy.get("kept_float", [])) or "-"]]
    print_table("edgephoto quantize", ["artifact", "precision", "method", "drop", "limit",
                                       "kept float"], rows)


def _float_artifact(model: str, target_name: str | None, out_dir: Path | None,
                    weights_dirs: tuple[Path, ...], accepted: tuple[str, ...], as_json: bool) -> Path:
    """Convert zoo `model` to fp32 for `target_name` (or reuse a verified one already there)."""
    from edgephoto.convert.api import check_out_dir, convert_model
    from edgephoto.convert.targets import TARGETS
    from edgephoto.errors import EdgePhotoError
    from edgephoto.manifest import artifact_location, read_manifest, verify
    from edgephoto.zoo import get_model
    from edgephoto.zoo.weights import resolve

    spec = get_model(model)  # not a directory and not a zoo name: "unknown model, did you mean"
    if target_name is None:
        raise InvalidOptionError(f"quantizing the zoo model {model} needs --target "
                                 f"({', '.join(TARGETS.names())})")
    target = TARGETS.get(target_name)
    if not spec.permissive and spec.licence not in accepted:
        raise LicenceNotAcceptedError(spec.name, spec.licence)
    root_out = out_dir if out_dir is not None else Path("artifacts")
    existing = artifact_location(root_out, spec.name, target.name)
    try:
        verify(existing, read_manifest(existing))
        return existing
    except EdgePhotoError:
        pass  # none there yet (or not intact): build it
    check_out_dir(root_out)
    with progress_display(not as_json or sys.stderr.isatty()) as progress:
        root = resolve(spec, progress=progress, local_dirs=list(weights_dirs) or None)
        [result] = convert_model(spec, root / spec.files[0].path, [target], root_out,
                                 precisions=("fp32",), progress=progress)
    if not result.ok or result.path is None:
        raise ConversionError(f"{spec.name} -> {target.name} fp32: {result.error}")
    return Path(result.path)
