"""Parity: run the source (in its own framework) and the artifact (through a runtime backend) on
real photos, and compare per output (max/mean absolute error) and with the task's own metric.

Tolerances are per task (edgephoto.tasks) and precision; a float conversion out of tolerance is a failed
conversion that carries the numbers (errors.ParityError).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgephoto import metrics
from edgephoto.errors import ParityError
from edgephoto.tasks import GENERIC_TOLERANCE, INTEGER_TOLERANCE, TASKS, Tolerance
from edgephoto.zoo.spec import ModelSpec, TensorSpec

SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea")  # of image_io.SAMPLES


def tolerance_for(spec: ModelSpec) -> Tolerance:
    """Float conversions agree as the task table's `parity` says; integer outputs in steps.
    (Quantized artifacts are judged by quantize's accuracy guard instead.)"""
    if any(np.dtype(t.dtype).kind in "iu" for t in spec.outputs):
        return INTEGER_TOLERANCE
    return TASKS.get(spec.task).parity if spec.task in TASKS else GENERIC_TOLERANCE


def sample_photo_paths() -> list[Path]:
    from edgephoto.runtime.image_io import sample_path

    return [sample_path(name) for name in SAMPLE_PHOTOS]


def sample_axes(tensor: TensorSpec) -> tuple[int, int]:
    """Indices of the H and W axes of a 4-D image tensor."""
    return (1, 2) if tensor.layout == "NHWC" else (2, 3)


def sample_hw(spec: ModelSpec, tensor: TensorSpec) -> tuple[int, int]:
    """The tensor's spatial size; open (None) dims take the spec's tile size, the size the
    runtime feeds a model with open H/W when it tiles."""
    h, w = (int(d) if (d := tensor.shape[i]) is not None else spec.tile.tile for i in sample_axes(tensor))
    return h, w


def _to_model_input(rgb: np.ndarray, tensor: TensorSpec, hw: tuple[int, int]) -> np.ndarray:
    """Resize a real photo to `hw` (bicubic), then feed it as the runtime does."""
    from edgephoto.runtime.tasks.common import model_input

    h, w = hw
    pixels = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BICUBIC))
    return model_input(pixels, tensor)


def parity_inputs(spec: ModelSpec, photos: list[Path] | None = None) -> list[dict[str, np.ndarray]]:
    """One feed dict per real photo (single-image-input models)."""
    feeds = []
    for path in photos or sample_photo_paths():
        rgb = np.asarray(Image.open(path).convert("RGB"))
        feeds.append({spec.inputs[0].name: _to_model_input(rgb, spec.inputs[0], sample_hw(spec, spec.inputs[0]))})
    return feeds


def _task_metric(spec: ModelSpec, name: str, ref: np.ndarray, out: np.ndarray) -> float:
    metric = tolerance_for(spec).metric
    ref64, out64 = ref.astype(np.float64), out.astype(np.float64)
    if metric == "mean_steps":
        return float(np.abs(ref64 - out64).mean())
    if metric == "psnr":
        tensor = next((t for t in spec.outputs if t.name == name), None)
        if tensor is not None and tensor.normalization is not None:
            ref64, out64 = tensor.normalization.invert(ref64), tensor.normalization.invert(out64)
        return metrics.psnr(np.clip(ref64, 0, 255), np.clip(out64, 0, 255))
    if metric == "iou":
        if ref64.shape[-1] == 2:  # two-class logits (meet): person = channel 1 wins
            return metrics.iou(ref64[..., 1] > ref64[..., 0], out64[..., 1] > out64[..., 0])
        return metrics.iou(ref64 > 0.5, out64 > 0.5)
    if metric == "spearman":
        return metrics.spearman(ref64.ravel(), out64.ravel())
    scale = max(float(np.abs(ref64).max()), 1e-6)
    return float(np.abs(ref64 - out64).max() / scale)


def compare(
    spec: ModelSpec,
    run_source: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    run_artifact: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    feeds: list[dict[str, np.ndarray]],
) -> dict[str, Any]:
    """Per-output errors and the task metric (worst over photos)."""
    per_output: dict[str, dict[str, float]] = {}
    for feed in feeds:
        ref, out = run_source(feed), run_artifact(feed)
        for tensor in spec.outputs:
            a, b = np.asarray(ref[tensor.name]), np.asarray(out[tensor.name])
            if a.shape != b.shape:
                raise ParityError(
                    f"output '{tensor.name}' has shape {b.shape}, source gives {a.shape}",
                    {"output": tensor.name, "artifact_shape": b.shape, "source_shape": a.shape},
                )
            errors = metrics.abs_errors(a, b)
            value = _task_metric(spec, tensor.name, a, b)
            seen = per_output.setdefault(tensor.name, {"max_abs": 0.0, "mean_abs": 0.0, "metric": value})
            seen["max_abs"] = max(seen["max_abs"], errors["max_abs"])
            seen["mean_abs"] = max(seen["mean_abs"], errors["mean_abs"])
            worse = min if tolerance_for(spec).higher_is_better else max
            seen["metric"] = worse(seen["metric"], value)
    tolerance = tolerance_for(spec)
    return {
        "photos": len(feeds),
        "metric": tolerance.metric,
        "outputs": per_output,
        "tolerance": {"metric": tolerance.metric, "bound": tolerance.bound, "max_abs": tolerance.max_abs},
    }


def gate(spec: ModelSpec, target: str, result: dict[str, Any]) -> None:
    """Raise ParityError with the numbers when any output is out of tolerance."""
    tolerance = tolerance_for(spec)
    for name, numbers in result["outputs"].items():
        failed = failed_bounds(tolerance, numbers)
        if failed:
            raise ParityError(
                f"{spec.name} -> {target}: output '{name}' out of tolerance: {'; '.join(failed)} "
                f"({tolerance.metric}={numbers['metric']:.6g}, max_abs={numbers['max_abs']:.3g}, "
                f"mean_abs={numbers['mean_abs']:.3g})",
                numbers,
            )


def failed_bounds(tolerance: Tolerance, numbers: dict[str, float]) -> list[str]:
    """Each bound this output breaks, as 'what=value, bound B' (empty when it passes)."""
    failed = []
    if not tolerance.passes(numbers["metric"]):
        side = ">=" if tolerance.higher_is_better else "<="
        failed.append(f"{tolerance.metric}={numbers['metric']:.6g} is not {side} {tolerance.bound}")
    if tolerance.max_abs is not None and numbers["max_abs"] > tolerance.max_abs:
        failed.append(f"max_abs={numbers['max_abs']:.3g} is over {tolerance.max_abs}")
    return failed
