"""OpenVINO quantization: fp16-compressed IR, and NNCF post-training int8 on the IR itself.

- fp16: weights stored as float16 (`save_model(compress_to_fp16=True)`); the CPU plugin still
  computes in f32 (or bf16 if hinted), so it is a size win, not a speed win.
- int8: `nncf.quantize` (MinMax + fast bias correction) on real-photo calibration data;
  weights int8 per-channel, activations via FakeQuantize, executed by the CPU plugin's int8
  kernels (AVX2 on the CI VM, which has no VNNI: ~2x over fp32 for ESRGAN all the same).
- activation ranges follow the task table's calibration rule, as on ONNX: "MinMax" tasks take
  the global min/max over the calibration crops (RangeEstimatorParametersSet.MINMAX). NNCF's
  own default for per-tensor activations is MEAN_MINMAX (the mean of per-crop min/max), which
  clips every crop's tails; ESRGAN-thick's 23 dense blocks compound that clipping: measured
  on the guard's held-out crops with 24 calibration crops, 1.24 dB drop with NNCF's default
  vs 0.22 dB with the global range (benchmarks/esrgan_openvino_ranges.py, results JSON+MD). Overflow fix off and float
  concats did not help (1.31 dB). Percentile tasks keep NNCF's default.
- upscalers, segmenters and matting models keep their edge layers float by default (first conv,
  last conv and the output head after it; nncf.IgnoredScope; option float_edges), as on ONNX.
- accuracy control: `nncf.quantize_with_accuracy_control` with the task's own held-out metric
  (the drop against the float IR) and the drop limit as max_drop; layers it reverts stay float
  and are listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import AccuracyDropError, require
from edgephoto.quantize import QUANTIZERS, QuantJob, QuantResult, accuracy, edge_layers
from edgephoto.tasks import TASKS

COMPUTE_OPS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul")


def _ov() -> Any:
    return require("openvino", "runtime", "OpenVINO quantization")


def _save(job: QuantJob, model: Any, name: str, compress: bool) -> Path:
    ov = _ov()
    for key, value in {**job.options.get("metadata", {}), "edgephoto.precision": job.precision}.items():
        model.set_rt_info(str(value), ["framework", "edgephoto", key.removeprefix("edgephoto.")])
    out = job.workdir / f"{job.spec.name}.{name}.xml"
    ov.save_model(model, str(out), compress_to_fp16=compress)
    return out


def _float_ops(model: Any) -> set[str]:
    """Compute ops whose weights are still a plain float constant (not int8 + dequantize)."""
    found = set()
    for op in model.get_ordered_ops():
        if op.get_type_name() in COMPUTE_OPS and op.get_input_size() > 1:
            weights = op.input_value(1).get_node()
            if weights.get_type_name() == "Constant" and weights.get_element_type().is_real():
                found.add(op.get_friendly_name())
    return found


CONV_OPS = COMPUTE_OPS[:3]
# ops of the head that hold no arithmetic to keep float
PASSIVE_OPS = ("Result", "Constant", "Convert", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
               "DepthToSpace", "ShapeOf", "Parameter")


def range_parameters(task: str) -> Any:
    """NNCF advanced parameters for the task's calibration rule (None: NNCF's defaults)."""
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    method = TASKS.get(task).calibration[0] if task in TASKS else "MinMax"
    if method != "MinMax":
        return None
    return AdvancedQuantizationParameters(activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX)


def _dataset(job: QuantJob, input_name: str) -> Any:
    import nncf

    return nncf.Dataset(job.calibration().calibration, lambda feed: {input_name: next(iter(feed.values()))})


def _int8(job: QuantJob) -> QuantResult:
    ov = _ov()
    nncf = require("nncf", "convert", "OpenVINO int8")
    model = ov.Core().read_model(str(job.source))
    input_name = model.inputs[0].get_any_name()
    dataset = _dataset(job, input_name)
    subset = len(job.calibration().calibration)
    ops = [(op.get_friendly_name(), op.get_type_name()) for op in model.get_ordered_ops()]
    base = edge_layers(ops, CONV_OPS, PASSIVE_OPS) if job.float_edges else []
    ignored = nncf.IgnoredScope(names=base) if base else None
    advanced = range_parameters(job.spec.task)
    quantized = nncf.quantize(model, dataset, subset_size=subset, preset=nncf.QuantizationPreset.MIXED,
                              ignored_scope=ignored, advanced_parameters=advanced)
    ranges = "global min/max activation ranges" if advanced is not None else "NNCF's default activation ranges"
    method = f"NNCF post-training quantization (MinMax, {ranges}, fast bias correction), int8 weights/activations"
    plain_float = _float_ops(quantized)
    out = _save(job, quantized, "int8", compress=False)
    if not job.accuracy_control:
        return QuantResult(out, method, kept_float=base, details={"float_edges": bool(base)})
    numbers = job.evaluate(out)
    if job.passes(numbers):
        return QuantResult(out, method, kept_float=base, accuracy=numbers,
                           details={"float_edges": bool(base), "accuracy_control": {"reverted": 0}})
    holdout = job.calibration().holdout
    job.evaluate(job.source)  # caches the float outputs on the held-out photos
    float_outputs = job._float_outputs

    def validate(compiled: Any, items: Any) -> float:
        request = compiled.create_infer_request()

        def run(feed: dict[str, np.ndarray]) -> np.ndarray:
            return np.asarray(request.infer([next(iter(feed.values()))])[compiled.outputs[0]])

        lookup = {id(s.feed): float_outputs[i] for i, s in enumerate(holdout)}
        subset = [holdout[i] for i in items]
        # NNCF wants a positive score: 100 - drop (the float model scores 100, drop is absolute)
        return 100.0 - float(accuracy.measure(job.spec, lambda feed: lookup[id(feed)], run, subset)["drop"])

    quantized = nncf.quantize_with_accuracy_control(
        model, dataset, nncf.Dataset(list(range(len(holdout)))), validate,
        max_drop=job.limit.limit, drop_type=nncf.DropType.ABSOLUTE, subset_size=subset,
        ignored_scope=ignored, advanced_quantization_parameters=advanced,
    )
    kept = base + sorted(_float_ops(quantized) - plain_float - set(base))
    out = _save(job, quantized, "int8-ac", compress=False)
    numbers = job.evaluate(out)
    if not job.passes(numbers):
        raise AccuracyDropError(job.limit.metric, numbers["drop"], job.limit.limit, {**numbers, "kept_float": kept})
    return QuantResult(out, method, kept_float=kept, accuracy=numbers,
                       details={"accuracy_control": {"by": "nncf.quantize_with_accuracy_control"}})


def _fp16(job: QuantJob) -> QuantResult:
    model = _ov().Core().read_model(str(job.source))
    return QuantResult(_save(job, model, "fp16", compress=True),
                       "float16-compressed IR weights (compute stays f32 unless hinted)")


QUANTIZERS.add("openvino", lambda job: {"fp16": _fp16, "int8": _int8}[job.precision](job))
