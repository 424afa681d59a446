"""How much of the task metric quantization costs, measured on held-out real photos.

Both the float and the quantized artifact run through the same runtime backend on the same
held-out samples. Each task has one guarded metric and a default limit on its drop:

- upscale: PSNR (dB) against the HR crop (SR protocol): drop = float PSNR - quantized PSNR
- segmentation / matting: IoU points (x100) against ground-truth masks when the photos have
  them, else 100 x (1 - IoU of the quantized mask with the float mask), masks at > 0.5
- depth: delta1 points of the quantized depth against the float depth (scale/shift aligned)
- anything else: relative output error (mean |q - f| / std f)

A drop beyond the limit raises AccuracyDropError carrying every number measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto import metrics
from edgephoto.errors import AccuracyDropError
from edgephoto.quantize.calibration import Sample
from edgephoto.runtime.tasks.common import TensorFacts
from edgephoto.tasks import GENERIC_LIMIT, TASKS, Limit
from edgephoto.zoo.spec import ModelSpec

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]  # feed -> first output (spec layout)


def limit_for(spec: ModelSpec, override: float | None = None) -> Limit:
    base = TASKS.get(spec.task).limit if spec.task in TASKS else GENERIC_LIMIT
    return base if override is None else Limit(base.metric, float(override), base.unit)


def open_runner(backend: str, path: Path, spec: ModelSpec, *, threads: int = 1) -> tuple[Runner, Callable[[], None]]:
    """A runner for one artifact through the runtime backend (1 thread), and its close()."""
    from edgephoto.runtime.backends import BACKENDS, load_backend

    # the backend's exact-float options (OpenVINO: f32, not its bf16 hint): measure the artifact
    options: dict[str, Any] = {"threads": threads, **dict(BACKENDS.get(backend).exact_options)}
    engine = load_backend(backend, path, device="cpu", **options)
    in_name = engine.inputs()[0].name
    out_names = [t.name for t in engine.outputs()]
    wanted = spec.outputs[0].name
    out_name = wanted if wanted in out_names else out_names[0]

    # integer I/O (an int8 .tflite): the engine's own scale/zero-point map the float feed in and out
    engine_in = engine.inputs()[0]
    engine_out = next(t for t in engine.outputs() if t.name == out_name)
    integer_io = engine_in.quantization is not None and spec.inputs[0].dtype == "float32"
    into = TensorFacts(engine_in.name, engine_in.shape, engine_in.dtype, quantization=engine_in.quantization)
    out_of = TensorFacts(engine_out.name, engine_out.shape, engine_out.dtype, quantization=engine_out.quantization)

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        value = next(iter(feed.values()))
        if integer_io:
            value = into.quantize(value, engine_in.dtype)
            return out_of.dequantize(engine.run({in_name: value})[out_name])
        return np.asarray(engine.run({in_name: value})[out_name])

    return run, engine.close


def _hwc(values: np.ndarray, layout: str) -> np.ndarray:
    array = np.asarray(values, np.float64)[0]
    return array.transpose(1, 2, 0) if layout == "NCHW" and array.ndim == 3 else array


def _image(spec: ModelSpec, values: np.ndarray) -> np.ndarray:
    tensor = spec.outputs[0]
    image = _hwc(values, tensor.layout)
    if tensor.normalization is not None:
        image = tensor.normalization.invert(image)
    return np.clip(image, 0, 255)


def _probability(spec: ModelSpec, values: np.ndarray) -> np.ndarray:
    """Foreground probability map: channel 0, or softmax channel 1 of two-class logits."""
    array = _hwc(values, spec.outputs[0].layout)
    if array.ndim == 3 and array.shape[-1] == 2:
        e = np.exp(array - array.max(axis=-1, keepdims=True))
        return e[..., 1] / e.sum(axis=-1)
    return array[..., 0] if array.ndim == 3 else array


def _upscale(spec: ModelSpec, pairs: list[tuple[Sample, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    border = spec.scale
    rows: dict[str, list[float]] = {k: [] for k in ("psnr_float", "psnr_quant", "ssim_float", "ssim_quant", "psnr_vs_float")}
    for sample, f, q in pairs:
        fi, qi = _image(spec, f), _image(spec, q)
        rows["psnr_vs_float"].append(metrics.psnr(fi, qi))
        if sample.reference is not None:
            ref = metrics.shave(sample.reference.astype(np.float64), border)
            fs, qs = metrics.shave(fi, border), metrics.shave(qi, border)
            rows["psnr_float"].append(metrics.psnr(ref, fs))
            rows["psnr_quant"].append(metrics.psnr(ref, qs))
            rows["ssim_float"].append(metrics.ssim(ref, fs))
            rows["ssim_quant"].append(metrics.ssim(ref, qs))
    out: dict[str, Any] = {k: float(np.mean(v)) for k, v in rows.items() if v}
    if "psnr_float" in out:
        out["drop"] = out["psnr_float"] - out["psnr_quant"]
        out["ssim_drop"] = out["ssim_float"] - out["ssim_quant"]
        out["guarded_against"] = "HR crops (bicubic-downsampled input, border shaved)"
        return out
    return {**out, **_generic(spec, pairs)}  # no HR reference (scale 1): relative output error


def _alpha(spec: ModelSpec, pairs: list[tuple[Sample, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    return _masks(spec, pairs, alpha=True)


def _masks(spec: ModelSpec, pairs: list[tuple[Sample, np.ndarray, np.ndarray]], alpha: bool = False) -> dict[str, Any]:
    rows: dict[str, list[float]] = {k: [] for k in ("iou_vs_float", "boundary_f_vs_float", "iou_gt_float", "iou_gt_quant", "boundary_f_gt_float", "boundary_f_gt_quant", "sad", "gradient_error")}
    for sample, f, q in pairs:
        pf, pq = _probability(spec, f), _probability(spec, q)
        mf, mq = pf > 0.5, pq > 0.5
        rows["iou_vs_float"].append(metrics.iou(mf, mq))
        rows["boundary_f_vs_float"].append(metrics.boundary_f(mq, mf))
        if alpha:  # soft edges matter: alpha errors too
            rows["sad"].append(metrics.sad(pq, pf))
            rows["gradient_error"].append(metrics.gradient_error(pq, pf))
        if sample.reference is not None and sample.reference.shape == mf.shape:
            rows["iou_gt_float"].append(metrics.iou(mf, sample.reference))
            rows["iou_gt_quant"].append(metrics.iou(mq, sample.reference))
            rows["boundary_f_gt_float"].append(metrics.boundary_f(mf, sample.reference))
            rows["boundary_f_gt_quant"].append(metrics.boundary_f(mq, sample.reference))
    out: dict[str, Any] = {k: float(np.mean(v)) for k, v in rows.items() if v}
    if "iou_gt_float" in out:
        out["drop"] = 100.0 * (out["iou_gt_float"] - out["iou_gt_quant"])
        out["guarded_against"] = "ground-truth masks"
    else:
        out["drop"] = 100.0 * (1.0 - out["iou_vs_float"])
        out["guarded_against"] = "float masks"
    return out


def _depth(spec: ModelSpec, pairs: list[tuple[Sample, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    rows: dict[str, list[float]] = {"delta1": [], "absrel": [], "spearman": []}
    for _, f, q in pairs:
        ff, qq = _hwc(f, spec.outputs[0].layout)[..., 0], _hwc(q, spec.outputs[0].layout)[..., 0]
        shift = 1e-3 - min(float(ff.min()), 0.0)  # keep the reference positive for ratios
        numbers = metrics.depth_metrics(qq + shift, ff + shift, np.ones(ff.shape, bool))
        for key, value in numbers.items():
            rows[key].append(value)
    out: dict[str, Any] = {f"{k}_vs_float": float(np.mean(v)) for k, v in rows.items()}
    out["drop"] = 100.0 * (1.0 - out["delta1_vs_float"])
    out["guarded_against"] = "float depth (scale/shift aligned)"
    return out


def _generic(spec: ModelSpec, pairs: list[tuple[Sample, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    errors = [float(np.mean(np.abs(q.astype(np.float64) - f)) / max(float(np.std(f)), 1e-9)) for _, f, q in pairs]
    return {"rel_error": float(np.mean(errors)), "drop": float(np.mean(errors)), "guarded_against": "float output"}


# the task table's `scorer` -> how held-out pairs are scored
SCORERS = {"upscale": _upscale, "masks": _masks, "alpha": _alpha, "depth": _depth, "generic": _generic}


def measure(spec: ModelSpec, run_float: Runner, run_quant: Runner, holdout: list[Sample]) -> dict[str, Any]:
    """Task metrics of the quantized model against the float one (and the references)."""
    pairs = [(s, run_float(s.feed), run_quant(s.feed)) for s in holdout]
    raw = [metrics.abs_errors(f, q) for _, f, q in pairs]
    numbers = SCORERS[TASKS.get(spec.task).scorer if spec.task in TASKS else "generic"](spec, pairs)
    numbers["max_abs"] = max(r["max_abs"] for r in raw)
    numbers["mean_abs"] = float(np.mean([r["mean_abs"] for r in raw]))
    numbers["samples"] = len(pairs)
    return numbers


def guard(spec: ModelSpec, numbers: Mapping[str, Any], limit: Limit) -> None:
    """Raise AccuracyDropError (with every number) when the drop is beyond the limit."""
    if numbers["drop"] > limit.limit:
        raise AccuracyDropError(limit.metric, float(numbers["drop"]), limit.limit, dict(numbers))
