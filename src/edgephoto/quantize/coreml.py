"""Core ML weight compression with coremltools.optimize (works on Linux, no predict needed).

- fp16: the float program re-emitted with float16 compute precision (weights and activations)
- int8-weights: linear symmetric int8 weights, per channel
- int4-weights: linear symmetric int4 weights, per block of 32 (needs iOS 18 / macOS 15 specs)
- palettize: 6-bit k-means weight palettes (a lookup table per tensor)

Activation quantization (w8a8) needs calibration through `predict()`, which runs only on macOS:
it is not offered, and accuracy is recorded as not measured on Linux.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgephoto.errors import InvalidOptionError, require
from edgephoto.files import write_dir_atomic
from edgephoto.quantize import QUANTIZERS, QuantJob, QuantResult

MACOS_NOTE = ("coreml: accuracy not measured (Core ML predict() runs only on macOS); activation "
              "quantization (w8a8) needs macOS predict for calibration, so only weights are compressed")
WEIGHT_THRESHOLD = 2048  # smaller tensors (first/last convs) stay float: little size, much error


def _ct() -> Any:
    return require("coremltools", "convert", "Core ML weight compression")


def _weights_bytes(package: Path) -> int:
    return sum(f.stat().st_size for f in Path(package).rglob("*.bin"))


def _config(precision: str) -> tuple[Any, str]:
    from coremltools.optimize import coreml as cto

    if precision == "int8-weights":
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                         weight_threshold=WEIGHT_THRESHOLD)
        return cto.OptimizationConfig(global_config=op), "int8 linear symmetric weights, per channel"
    if precision == "int4-weights":
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int4", granularity="per_block",
                                         block_size=32, weight_threshold=WEIGHT_THRESHOLD)
        return cto.OptimizationConfig(global_config=op), "int4 linear symmetric weights, blocks of 32"
    op = cto.OpPalettizerConfig(mode="kmeans", nbits=6, weight_threshold=WEIGHT_THRESHOLD)
    return cto.OptimizationConfig(global_config=op), "6-bit k-means palettized weights"


def _quantize(job: QuantJob) -> QuantResult:
    ct = _ct()
    from coremltools.models.utils import _apply_graph_pass

    model = ct.models.MLModel(str(job.source), skip_model_load=True)
    if job.precision == "fp16":
        from coremltools.converters.mil.mil.passes.defs.quantization import FP16ComputePrecision

        spec_version = model.get_spec().specificationVersion
        out_model = _apply_graph_pass(model, FP16ComputePrecision(op_selector=lambda op: True),
                                      spec_version=spec_version, skip_model_load=True)
        method = "float16 compute precision (weights and activations)"
    else:
        from coremltools.optimize import coreml as cto

        config, method = _config(job.precision)
        try:
            if job.precision == "palettize":
                out_model = cto.palettize_weights(model, config)
            else:
                out_model = cto.linear_quantize_weights(model, config)
        except ValueError as exc:
            if job.precision == "int4-weights":
                raise InvalidOptionError(
                    f"coreml int4-weights needs a model converted for iOS 18 / macOS 15 "
                    f"(--option minimum_deployment_target=iOS18): {exc}") from None
            raise
    metadata = {**job.options.get("metadata", {}), "edgephoto.precision": job.precision}
    out_model.user_defined_metadata.update({k: str(v) for k, v in metadata.items()})
    out = job.workdir / f"{job.spec.name}.{job.precision}.mlpackage"

    def save(staging: Path) -> None:
        out_model.save(str(staging))
        if job.precision != "fp16" and _weights_bytes(staging) >= 0.98 * _weights_bytes(job.source):
            raise InvalidOptionError(
                f"coreml {job.precision}: no weight tensor of {job.spec.name} has {WEIGHT_THRESHOLD}+ "
                f"elements, so nothing would be compressed; use fp16")

    write_dir_atomic(out, save)
    job.notes.append(MACOS_NOTE)
    return QuantResult(out, method, details={"weight_threshold": WEIGHT_THRESHOLD})


QUANTIZERS.add("coreml", _quantize)
