"""The work one inference does, counted from the artifact's ONNX graph: MACs and FLOPs.

Convolutions and matrix products count a multiply-add as one MAC and two FLOPs (plus one
FLOP per output element for a bias); elementwise and normalisation ops count one FLOP per
output element; pooling one per element it reads (kernel x output), resize one per output element; data movement
(reshape, transpose, concat, slice, pad, resize-by-copy, ...) and the quantize/dequantize
bookkeeping of a QDQ graph count zero, since engines fuse them or only move bytes. Shapes come
from onnx.shape_inference after the dynamic dimensions are fixed (batch 1, height and width
the manifest's tile size), so the count is the one for the size the benchmark feeds.

A .tflite/OpenVINO/Core ML artifact is counted on the ONNX artifact of the same model and
precision beside it (else its fp32 ONNX): the same network, so the same work; `counted_on`
says which file was read.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edgephoto.errors import InputFileError

# (data input index, weight input index) per convolution-like op
_CONV = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
_MATMUL = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}
_ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Erf", "Neg", "Abs", "Reciprocal",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Clip", "Max", "Min", "Mean", "Sum", "Softmax", "LogSoftmax", "Gelu", "Mish", "Softplus",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "Where", "Greater",
    "Less", "Equal", "Floor", "Ceil", "Round", "Sign", "QLinearAdd", "QLinearMul",
    "QLinearSigmoid", "QLinearLeakyRelu", "Resize", "Upsample", "ReduceMean", "ReduceSum",
    "ReduceMax", "GlobalAveragePool", "GlobalMaxPool", "QLinearGlobalAveragePool",
})
# a graph with these computes in int8 whatever its manifest's precision says (a model already
# quantized upstream, such as FastDepth's int8 TFLite, has an "fp32" artifact of QDQ ops)
_INTEGER_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger",
                          "MatMulInteger", "QLinearMatMul"})
_POOL = frozenset({"AveragePool", "MaxPool", "LpPool", "QLinearAveragePool"})


def _elements(shape: list[int] | None) -> int | None:
    return None if shape is None else math.prod(shape)


def _shapes(model: Any) -> dict[str, list[int]]:
    """Static shape of every value the inferred graph knows fully (initializers included)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    graph = inferred.graph
    out: dict[str, list[int]] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        if info.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            out[info.name] = [d.dim_value for d in dims]
    for init in graph.initializer:
        out[init.name] = list(init.dims)
    return out


def _fix_inputs(model: Any, size: int) -> None:
    """Dynamic input dims -> concrete: batch (first) 1, the others the tile size; so shape
    inference can reach every node. Channels are static in every zoo model."""
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        for k, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                dim.dim_value = 1 if k == 0 else size


def _sort_nodes(graph: Any) -> None:
    """Put the nodes in topological order: shape inference walks them in file order, and some
    writers (the fp16 converter's appended Casts) leave a consumer before its producer."""
    nodes = list(graph.node)
    ready = {v.name for v in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, order = list(range(len(nodes))), []
    while pending:
        runnable = [k for k in pending if all(i in ready for i in nodes[k].input)]
        if not runnable:  # a cycle or a dangling input: leave the rest as it was
            order += pending
            break
        for k in runnable:
            ready.update(nodes[k].output)
        order += runnable
        taken = set(runnable)
        pending = [k for k in pending if k not in taken]
    if order != sorted(order):
        copies = [type(nodes[k])() for k in order]
        for copy, k in zip(copies, order, strict=True):
            copy.CopyFrom(nodes[k])
        del graph.node[:]
        graph.node.extend(copies)


def _attr(node: Any, name: str, default: Any) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _node_work(node: Any, shapes: dict[str, list[int]]) -> tuple[int, int] | None:
    """(MACs, FLOPs) of one node, None when a shape it needs is unknown."""
    def shape(index: int, outputs: bool = False) -> list[int] | None:
        names = node.output if outputs else node.input
        return shapes.get(names[index]) if index < len(names) and names[index] else None

    op, out = node.op_type, shape(0, outputs=True)
    if op in _CONV or op == "ConvTranspose":
        data, weight = _CONV.get(op, (0, 1))
        w, x = shape(weight), shape(data)
        if w is None or out is None or x is None:
            return None
        # grouped/depthwise convs need no group factor: the weight holds Cin/group (Conv) or
        # Cout/group (ConvTranspose) already
        kernel = math.prod(w[2:])
        if op == "ConvTranspose":  # weight (Cin, Cout/group, k...): every input pixel scatters
            macs = math.prod(x) * w[1] * kernel
        else:  # weight (Cout, Cin/group, k...): every output pixel gathers
            macs = math.prod(out) * w[1] * kernel
        bias_index = {"QLinearConv": 8, "ConvInteger": None}.get(op, 2)  # ConvInteger has no bias
        bias = bias_index is not None and len(node.input) > bias_index and bool(node.input[bias_index])
        return macs, 2 * macs + (math.prod(out) if bias else 0)
    if op in _MATMUL or op == "Gemm":
        a_index, b_index = _MATMUL.get(op, (0, 1))
        a, b = shape(a_index), shape(b_index)
        if a is None or out is None or b is None:
            return None
        k = a[-1] if op != "Gemm" or not _attr(node, "transA", 0) else a[0]
        macs = math.prod(out) * k
        bias = op == "Gemm" and len(node.input) > 2 and bool(node.input[2])
        return macs, 2 * macs + (math.prod(out) if bias else 0)
    if op in _POOL:
        if out is None:
            return None
        return 0, math.prod(out) * math.prod(_attr(node, "kernel_shape", [1]))
    if op in _ELEMENTWISE:
        # reductions read their whole input; the others touch each output element once
        counted = shape(0) if op.startswith(("Reduce", "Global", "QLinearGlobal")) else out
        if counted is None:
            return None
        return 0, math.prod(counted)
    return 0, 0  # data movement, shape ops, Q/DQ bookkeeping


def count_onnx(model_path: str | Path, size: int = 128) -> dict[str, Any]:
    """MACs and FLOPs of one inference of an ONNX file, per op type; dynamic dims -> `size`."""
    import onnx

    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # a corrupt file: onnx raises its own DecodeError types
        raise InputFileError(model_path, f"cannot read the ONNX graph to count its work ({exc})") from None
    _fix_inputs(model, size)
    del model.graph.value_info[:]  # shapes stored by the exporter keep the symbolic dims: infer afresh
    _sort_nodes(model.graph)
    shapes = _shapes(model)
    macs = flops = 0
    per_op: dict[str, dict[str, int]] = {}
    unshaped: list[str] = []
    for node in model.graph.node:
        work = _node_work(node, shapes)
        if work is None:
            unshaped.append(node.name or node.op_type)
            continue
        if work == (0, 0):
            continue
        entry = per_op.setdefault(node.op_type, {"nodes": 0, "macs": 0, "flops": 0})
        entry["nodes"] += 1
        entry["macs"] += work[0]
        entry["flops"] += work[1]
        macs += work[0]
        flops += work[1]
    integer = any(node.op_type in _INTEGER_OPS for node in model.graph.node)
    return {"macs": macs, "flops": flops, "per_op": per_op, "unshaped_nodes": unshaped, "size": size,
            "integer_graph": integer}


def _onnx_file(directory: Path) -> Path | None:
    found = sorted(directory.glob("*.onnx")) if directory.is_dir() else []
    return found[0] if found else None


def artifact_work(artifact: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The artifact's work per inference, or None when no ONNX graph of it is at hand."""
    size = int((manifest.get("tile") or {}).get("tile") or 128)
    precision = str(manifest.get("precision", "fp32"))
    candidates = [artifact] if manifest.get("target") == "onnx" else []
    candidates += [artifact.parent / f"onnx-{precision}", artifact.parent / "onnx-fp32"]
    for directory in candidates:
        path = _onnx_file(directory)
        if path is not None:
            return {**count_onnx(path, size), "counted_on": str(path),
                    "counted_on_self": directory == artifact}
    return None


# int8 arithmetic (activations and weights): measured against the int8 GEMM peak. Weight-only
# compression (int8-weights, int4-weights, palettize) and fp16 on a CPU compute in float.
INT8_PRECISIONS = frozenset({"int8", "int8-io", "int8-dynamic"})


def _per_s(flops: int, ms: float | None) -> float | None:
    return flops / (ms / 1e3) / 1e9 if ms else None


def _share(value: float | None, top: float | None) -> float | None:
    return value / top if value is not None and top else None


def rate(work: dict[str, Any] | None, precision: str | None, median_ms: float,
         peak: dict[str, Any] | None, cpu_median_ms: float | None = None) -> dict[str, Any] | None:
    """Work per inference with the achieved rate (G per second at the median latency) and its
    fraction of this machine's peak of the same kind (int8 GEMM or fp32 sgemm); the same on
    process CPU time, which a shared machine's load disturbs far less than wall time."""
    if work is None:
        return None
    int8 = precision in INT8_PRECISIONS or bool(work.get("integer_graph") and work.get("counted_on_self"))
    key = "int8_gops" if int8 else "fp32_gflops"
    achieved, achieved_cpu = _per_s(work["flops"], median_ms), _per_s(work["flops"], cpu_median_ms)
    top, top_cpu = (peak or {}).get(key), (peak or {}).get(f"{key}_cpu")
    return {
        "macs": work["macs"], "flops": work["flops"], "size": work["size"],
        "integer_graph": work.get("integer_graph", False),
        "counted_on": work["counted_on"], "counted_on_self": work["counted_on_self"],
        "unshaped_nodes": work["unshaped_nodes"], "per_op": work["per_op"],
        "unit": "GOP/s" if int8 else "GFLOP/s",
        "achieved": achieved,
        "peak": top,
        "peak_kind": "int8" if int8 else "fp32",
        "fraction_of_peak": _share(achieved, top),
        "achieved_cpu": achieved_cpu,
        "peak_cpu": top_cpu,
        "fraction_of_peak_cpu": _share(achieved_cpu, top_cpu),
    }
