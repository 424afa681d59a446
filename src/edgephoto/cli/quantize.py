"""`edgephoto quantize`: an existing fp32 artifact directory to fp16 / int8 / ... with its
accuracy measured on held-out real photos and guarded."""

from __future__ import annotations

from pathlib import Path

import click

from edgephoto.cli.output import emit_json, print_table, progress_display


@click.command("quantize")
@click.argument("artifact_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--precision", "-p", required=True, help="Target precision (per target: fp16, int8, ...).")
@click.option("--calib", "calib_dir", type=click.Path(path_type=Path),
              help="Directory of real photos to calibrate on (default: the built-in photos).")
@click.option("--subset-size", type=int, default=None, help="Calibration samples (default 64).")
@click.option("--accuracy-control", is_flag=True,
              help="Keep the most sensitive layers float until the drop is within the limit.")
@click.option("--first-conv-float/--first-conv-int8", "float_first_conv", default=None,
              help="Keep the first conv float (default: on for upscalers, where int8 there costs dB).")
@click.option("--max-drop", type=float, default=None,
              help="Allowed drop of the task metric (dB PSNR, IoU or delta1 points).")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path),
              help="Output root (default: beside ARTIFACT_DIR, as <model>/<target>-<precision>).")
@click.option("--weights-dir", "weights_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Local zoo weights directory (targets that rebuild from the source).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(artifact_dir: Path, precision: str, calib_dir: Path | None, subset_size: int | None,
            accuracy_control: bool, float_first_conv: bool | None, max_drop: float | None, out_dir: Path | None,
            weights_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Quantize the fp32 artifact in ARTIFACT_DIR (made by `edgephoto convert`)."""
    from edgephoto.quantize.directory import quantize_directory

    options = {"calib_dir": calib_dir, "subset_size": subset_size,
               "accuracy_control": accuracy_control, "max_drop": max_drop}
    if float_first_conv is not None:
        options["float_first_conv"] = float_first_conv
    with progress_display(not as_json) as progress:
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
