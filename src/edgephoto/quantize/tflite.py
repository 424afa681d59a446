"""TFLite quantization with TensorFlow's own converter, from the model's SavedModel.

A .tflite cannot be re-quantized well after the fact, so every precision re-converts the
SavedModel (reached through the conversion graph) with:

- fp16: float16 weights (dequantized at load; XNNPACK runs fp32 or its fp16 path)
- int8-dynamic: dynamic range, int8 weights, float activations quantized per op at run time
- int8: full integer kernels (TFLITE_BUILTINS_INT8), float32 input/output
- int8-io: full integer including int8 input/output (callers quantize with the tensor's params)

Speed: XNNPACK runs the int8 graph (every op int8, one QUANTIZE in, one DEQUANTIZE out: see
the tests), but its int8 convs beat fp32 only with int8 dot-product instructions (ARM dotprod,
x86 AVX-512 VNNI / AVX-VNNI). On AVX2-only x86 (the CI VM: its CPU flags hide AVX-512) int8
runs at fp32 speed: esrgan-slim-x4 0.92-0.96x, while ORT (u8s8) gets 1.95x and OpenVINO 2.2x
on the same machine. ESRGAN slim/medium's tail (UpSampling2D nearest + a 3x3 conv at output
size, which XNNPACK cannot delegate) is rewritten at conversion into a conv at input size + depth
to space (convert/keras_passes.py), so both precisions run fully inside XNNPACK.

Representative data = the real-photo calibration feeds. Accuracy control (int8, int8-io): the
QuantizationDebugger ranks tensors by quantization error (RMSE / scale); the worst are
denylisted, 1, 2, 4... of them, until the drop is within the limit or half of them are float
(then refused: quantize.keep_float_until_within).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import InvalidOptionError, require
from edgephoto.quantize import QUANTIZERS, QuantJob, QuantResult, keep_float_until_within

METHODS = {
    "fp16": "float16 weights (TFLiteConverter supported_types=float16)",
    "int8-dynamic": "dynamic range: int8 weights, activations quantized at run time",
    "int8": "full integer (TFLITE_BUILTINS_INT8) from real-photo representative data, float32 I/O",
    "int8-io": "full integer from real-photo representative data, int8 input and output",
}


def _tf() -> Any:
    return require("tensorflow", "convert", "TFLite quantization")


def _representative(job: QuantJob) -> Callable[[], Iterator[list[np.ndarray]]]:
    feeds = job.calibration().calibration

    def generate() -> Iterator[list[np.ndarray]]:
        for feed in feeds:
            yield [next(iter(feed.values())).astype(np.float32)]

    return generate


def _converter(job: QuantJob, *, strict_int8: bool = True) -> Any:
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(job.reach("savedmodel")))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if job.precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif job.precision in ("int8", "int8-io"):
        converter.representative_dataset = _representative(job)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.target_spec.supported_ops = ops if strict_int8 else [*ops, tf.lite.OpsSet.TFLITE_BUILTINS]
        if job.precision == "int8-io":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter


def _write(job: QuantJob, flatbuffer: bytes, suffix: str = "") -> Path:
    """Spec I/O names and metadata (precision updated) via the tflite target's own finisher."""
    from edgephoto.convert.public import ConvertContext, finish_tflite_bytes

    name = f"{job.spec.name}.{job.precision}{suffix}"
    metadata = {**job.options.get("metadata", {}), "edgephoto.precision": job.precision}
    ctx = ConvertContext(job.spec, job.workdir, {**job.options, "metadata": metadata}, job.progress, [])
    return finish_tflite_bytes(flatbuffer, ctx, name)


def _convert(job: QuantJob) -> tuple[Path, list[str]]:
    try:
        return _write(job, _converter(job).convert()), []
    except Exception as exc:
        if job.precision not in ("int8", "int8-io"):
            raise
        # an op without an int8 kernel: let it run float and say which
        job.notes.append(f"tflite {job.precision}: not every op has an int8 kernel "
                         f"({str(exc).strip().splitlines()[0][:160]}); those ops run float")
        return _write(job, _converter(job, strict_int8=False).convert()), ["ops without int8 kernels"]


def _ranking(job: QuantJob) -> list[str]:
    tf = _tf()
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=_converter(job, strict_int8=False), debug_dataset=_representative(job)
    )
    debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    rows = []
    for row in csv.DictReader(dump):  # RMSE in units of the tensor's quantization step
        scale = float(row.get("scale") or 0) or 1.0
        rows.append((row["tensor_name"], float(row["mean_squared_error"]) ** 0.5 / scale))
    return [name for name, _ in sorted(rows, key=lambda r: r[1], reverse=True)]


def _selective(job: QuantJob, denylist: list[str], round_: int) -> Path:
    tf = _tf()
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=_converter(job, strict_int8=False), debug_dataset=_representative(job),
        debug_options=options,
    )
    return _write(job, debugger.get_nondebug_quantized_model(), f"-ac{round_}")


def stores_fp16_weights(path: Path) -> bool:
    """True for a float .tflite whose weights are already float16 (MediaPipe ships some so)."""
    from ai_edge_litert.interpreter import Interpreter

    return any(d["dtype"] == np.float16 for d in Interpreter(model_path=str(path)).get_tensor_details())


def _quantize(job: QuantJob) -> QuantResult:
    if job.precision == "fp16" and stores_fp16_weights(job.source):
        raise InvalidOptionError(
            f"tflite fp16: {job.spec.name}'s float artifact already stores float16 weights (as "
            f"published upstream); fp16 would not make it smaller")
    out, kept = _convert(job)
    method = METHODS[job.precision]
    if not job.accuracy_control or job.precision not in ("int8", "int8-io"):
        return QuantResult(out, method, kept_float=kept)
    numbers = job.evaluate(out)
    if job.passes(numbers):
        return QuantResult(out, method, kept_float=kept, accuracy=numbers,
                           details={"accuracy_control": {"rounds": 0}})
    out, denylist, numbers, round_ = keep_float_until_within(
        job, _ranking(job), lambda kept, round_: _selective(job, kept, round_), "tensor(s)")
    details = {"accuracy_control": {"rounds": round_, "ranked_by": "QuantizationDebugger RMSE"}}
    return QuantResult(out, method, kept_float=denylist, details=details, accuracy=numbers)

QUANTIZERS.add("tflite", _quantize)
