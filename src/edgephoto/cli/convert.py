"""`edgephoto convert`: zoo models or users' own models to onnx / tflite / openvino / coreml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.cli.quantize import quantization_options, quantization_settings
from edgephoto.errors import InvalidOptionError, LicenceNotAcceptedError


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidOptionError(f"--option expects KEY=VALUE, got '{pair}'")
        options[key.strip()] = value.strip()
    return options


def _floats(text: str | None) -> tuple[float, ...] | None:
    try:
        return tuple(float(x) for x in text.split(",")) if text else None
    except ValueError:
        raise InvalidOptionError(f"expected comma-separated numbers, got '{text}'") from None


@click.command("convert")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--model", "-m", "model_name", help="Zoo model name(s), comma-separated, or 'all' (permissive models).")
@click.option("--target", "-t", "targets", default="all", show_default=True,
              help="Comma-separated targets: onnx,tflite,openvino,coreml or 'all'.")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=Path("artifacts"),
              show_default=True, help="Output directory (one sub-directory per model).")
@click.option("--quantize", "-q", "precisions", default="fp32", show_default=True,
              help="Comma-separated precisions to build (fp32,fp16,int8,...; per target).")
@quantization_options
@click.option("--option", "target_options", multiple=True, metavar="KEY=VALUE",
              help="Target option, e.g. opset=17 (refused by targets that do not accept it).")
@click.option("--accept-licence", "accepted", multiple=True, metavar="LICENCE",
              help="Opt in to a non-permissive licence (e.g. AGPL-3.0) for models that need it.")
@click.option("--weights-dir", "weights_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Local directory to look for zoo weights in (before any download).")
@click.option("--task", help="User model: its task (upscale, segmentation, depth, matting, ...).")
@click.option("--scale", type=int, help="User model: upscale factor.")
@click.option("--input-shape", help="User model: input shape, e.g. 1,128,128,3; -1 = any size.")
@click.option("--mean", help="User model: normalisation mean(s) on 0-255 pixels.")
@click.option("--std", help="User model: normalisation std(s) on 0-255 pixels.")
@click.option("--color", type=click.Choice(["RGB", "BGR", "Y"]),
              help="User model: colour space its input expects (default RGB; 1 channel = Y).")
@click.option("--layout", type=click.Choice(["NHWC", "NCHW"]),
              help="User model: input layout when the file does not make it clear.")
@click.option("--outputs", "output_names", help="User model: comma-separated output tensor names.")
@click.option("--config", "config", type=click.Path(path_type=Path, exists=True),
              help="User model: YAML with task/scale/input_shape/mean/std/color/layout/outputs.")
@click.option("--sanity/--no-sanity", default=True, show_default=True,
              help="User model: run each artifact on real photos and check its task metric.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per artifact.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where zoo models convert: here, one after another, or one Ray task each (edgephoto[ray]).")
@click.option("--address", help="--executor ray: the cluster to join (default: start a local one).")
def command(
    path: Path | None, model_name: str | None, targets: str, out_dir: Path, precisions: str,
    calib_dir: Path | None, subset_size: int | None, accuracy_control: bool,
    float_edges: bool | None, max_drop: float | None, target_options: tuple[str, ...],
    accepted: tuple[str, ...], weights_dirs: tuple[Path, ...],
    task: str | None, scale: int | None, input_shape: str | None, mean: str | None,
    std: str | None, color: str | None, layout: str | None, output_names: str | None,
    config: Path | None, sanity: bool, as_json: bool, executor: str, address: str | None,
) -> None:
    """Convert zoo models (--model NAME|all) or a model file (PATH) to deployable artifacts.

    Every artifact gets a manifest.json and a parity check against its source on real photos.
    """
    from edgephoto.convert.api import check_out_dir, convert_model
    from edgephoto.convert.targets import check_options, check_precision, parse_targets
    from edgephoto.zoo import all_models, get_model
    from edgephoto.zoo.weights import resolve

    if (path is None) == (model_name is None):
        raise InvalidOptionError("give either a model file PATH or --model NAME|all")
    if executor == "local" and address is not None:
        raise InvalidOptionError("--address is the Ray cluster of --executor ray")
    if executor == "ray" and path is not None:
        raise InvalidOptionError("--executor ray converts zoo models (--model NAME|all), not a model file")
    chosen = parse_targets(targets)
    options = _parse_options(target_options)
    for target in chosen:
        check_options(target, options)
    precision_list = tuple(p.strip() for p in precisions.split(",") if p.strip())
    for precision in precision_list:  # refused here if no chosen target can do it at all
        if not any(precision in t.precisions for t in chosen):
            check_precision(chosen[0], precision)
    check_out_dir(out_dir)
    quantizing = quantization_settings(calib_dir, subset_size, accuracy_control, float_edges, max_drop)

    jobs = []
    results = []  # ArtifactResult rows, model by model, each model's targets and precisions in order
    if path is not None:
        from edgephoto.convert.user_model import UserModelOptions, parse_shape, spec_from_file

        given = {"task": task, "scale": scale, "mean": _floats(mean), "std": _floats(std),
                 "color": color, "layout": layout,
                 "input_shape": parse_shape(input_shape) if input_shape else None,
                 "outputs": tuple(n.strip() for n in output_names.split(",")) if output_names else None}
        if config is not None:
            user = UserModelOptions.from_yaml(config, **given)
        else:
            if not task:
                raise InvalidOptionError("a model file needs --task (or --config with a task)")
            user = UserModelOptions(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
        spec = spec_from_file(path, user)
        jobs.append((spec, path))
    else:
        specs = (all_models() if model_name == "all"
                 else [get_model(name.strip()) for name in str(model_name).split(",") if name.strip()])
        for spec in specs:
            if not spec.permissive and spec.licence not in accepted:
                raise LicenceNotAcceptedError(spec.name, spec.licence)
        if executor == "ray":  # each node resolves its model's weights itself
            from edgephoto.batch.convert_sweep import sweep_ray

            with progress_display(not as_json or sys.stderr.isatty()) as progress:
                results = sweep_ray([s.name for s in specs], [t.name for t in chosen], out_dir,
                                   precisions=precision_list, options={**options, **quantizing},
                                   weights_dirs=weights_dirs, address=address, progress=progress)
        with progress_display(not as_json or sys.stderr.isatty()) as progress:
            for spec in specs if executor == "local" else ():
                root = resolve(spec, progress=progress, local_dirs=list(weights_dirs) or None)
                jobs.append((spec, root / spec.files[0].path))

    with progress_display(not as_json or sys.stderr.isatty()) as progress:
        for spec, source in jobs:
            results.extend(convert_model(spec, source, chosen, out_dir, precisions=precision_list,
                                         options={**options, **quantizing}, progress=progress))
    if path is not None and sanity:
        from edgephoto.convert.user_check import check_results

        check_results(results, {t.name: t.parity_backend for t in chosen})
    if as_json:
        emit_json([r.to_dict() for r in results])
    else:
        rows = []
        for r in results:
            first: dict[str, Any] = (
                next(iter(r.parity.get("outputs", {}).values()), {}) if r.parity else {}
            )
            metric = r.parity.get("metric", "structural" if "structural" in r.parity else "")
            value = f"{metric}={first['metric']:.4g} max|d|={first['max_abs']:.2g}" if first else metric
            rows.append([r.model, r.target, r.precision, "ok" if r.ok else "FAILED",
                         f"{r.size_bytes / 1e6:.2f} MB", value, f"{r.seconds:.1f}s",
                         r.error or r.path])
        print_table("edgephoto convert", ["model", "target", "precision", "status", "size",
                                          "parity", "time", "path / error"], rows)
    failed = [r for r in results if not r.ok]
    if failed:  # one kind of failure keeps its own exit code; a mix is a conversion failure
        from edgephoto import errors

        for r in failed:  # one line each on stderr, whatever stdout carries
            reason = " ".join(str(r.error).split())
            click.echo(f"error: {r.model} -> {r.target} ({r.precision}): {reason}", err=True)
        codes = {getattr(errors, r.error_type or "", errors.ConversionError).exit_code for r in failed}
        raise SystemExit(codes.pop() if len(codes) == 1 else errors.ConversionError.exit_code)
