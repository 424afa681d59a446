"""Dequantize a QDQ ONNX graph into its float equivalent (for converters with no int8 path).

onnx2tf turns QuantizeLinear/DequantizeLinear graphs into wrong SavedModels, and Core ML's
mlprogram has no uint8 tensors, so integer models reach Core ML as the float graph that the int8
one computes: constant weights and biases are dequantized into float initializers, and each
activation QuantizeLinear -> DequantizeLinear pair either keeps its rounding as float ops
(`activations="round"`: Div, Round, Clip, Mul, the int8 arithmetic in float) or vanishes
(`"float"`). On FastDepth vs LiteRT (4 photos) "round" is 0.23 steps mean / 3 max, "float" 2.2 /
10 (clipping to the int8 range alone changed nothing): rounding is part of what the model computes.

Integer graph inputs become float32 tensors that take the same raw integer values (e.g. 0-255
pixels), and integer graph outputs become float32 tensors in the same quantization steps
(`real = (q - zero_point) * scale` still holds). `IoMapping` records both for the manifest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import ConversionError
from edgephoto.zoo.spec import ModelSpec

ACTIVATIONS = ("round", "float")
# Ops that only move or reshape values: an integer tensor may pass through them to an output.
_LAYOUT_OPS = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity"}


@dataclass(frozen=True)
class IoMapping:
    """An integer graph input/output that became float32 holding the same integer values."""

    name: str
    kind: str  # "input" | "output"
    dtype: str  # the integer type it had, e.g. "uint8"
    scale: float
    zero_point: int

    def describe(self) -> str:
        real = f"(q - {self.zero_point}) x {self.scale:.6g}" if self.zero_point else f"q x {self.scale:.6g}"
        return f"{self.kind} {self.name}: {self.dtype} -> float32 holding the same q (real = {real})"


# Beside a SavedModel (TF's directory for files its loader ignores): the IoMapping list.
RECORD = Path("assets.extra") / "edgephoto_dequantized.json"
METADATA_KEY = "edgephoto.dequantized"


def save_record(saved_model: Path, mappings: list[IoMapping]) -> None:
    from edgephoto.files import write_bytes_atomic

    write_bytes_atomic(Path(saved_model) / RECORD, json.dumps([asdict(m) for m in mappings], indent=1).encode())


def load_record(saved_model: Path) -> list[IoMapping]:
    """The mappings of a SavedModel made by dequantizing an integer model ([] for any other)."""
    path = Path(saved_model) / RECORD
    return [IoMapping(**row) for row in json.loads(path.read_text())] if path.is_file() else []


def mark_manifest(manifest: dict[str, Any], saved_model: Path) -> None:
    """Tensor entries of an artifact built from a dequantized SavedModel: float32 holding the
    same integer values (the source dtype kept as `source_dtype`, quantization unchanged)."""
    for m in load_record(saved_model):
        for entry in manifest.get(f"{m.kind}s", []):
            if entry.get("spec_name") == m.name:
                entry.update(dtype="float32", source_dtype=m.dtype)


def to_metadata(mappings: list[IoMapping]) -> str:
    """The artifact-embedded form (Core ML user metadata under METADATA_KEY)."""
    return json.dumps([asdict(m) for m in mappings], separators=(",", ":"))


def from_metadata(metadata: dict[str, str]) -> list[IoMapping]:
    text = metadata.get(METADATA_KEY)
    return [IoMapping(**row) for row in json.loads(text)] if text else []


def float_spec(spec: ModelSpec, mappings: list[IoMapping]) -> ModelSpec:
    """`spec` with the dequantized tensors as float32 (same names, shapes, normalisation; the
    meaning says what the values are)."""
    by_name = {m.name: m for m in mappings}

    def fix(t: Any) -> Any:
        m = by_name.get(t.name)
        if m is None:
            return t
        return replace(t, dtype="float32", meaning=f"{t.meaning} [{m.describe()}]".strip())

    return replace(spec, inputs=tuple(map(fix, spec.inputs)), outputs=tuple(map(fix, spec.outputs)))


def describe(mappings: list[IoMapping], activations: str = "round") -> str:
    """One manifest note saying what the float model's tensors hold."""
    how = "activation rounding kept as float ops" if activations == "round" else "float activations"
    return (f"dequantized float equivalent of the integer model (weights folded to float, {how}): "
            + "; ".join(m.describe() for m in mappings))


def is_quantized(model: Any) -> bool:
    """True when the graph has QuantizeLinear/DequantizeLinear nodes."""
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.domain in ("", "ai.onnx")
               for n in model.graph.node)


def dequantize(model: Any, activations: str = "round") -> tuple[Any, list[IoMapping]]:
    """A float copy of the QDQ `model` and the integer graph I/O it turned into float32.

    Integer tensors may pass through layout-only ops (Transpose, Reshape, ...) between a
    QuantizeLinear and its DequantizeLinear or a graph output; any other reader is refused.
    """
    import onnx
    from onnx import helper, numpy_helper

    if activations not in ACTIVATIONS:
        raise ValueError(f"activations must be one of {ACTIVATIONS}, not {activations!r}")
    model = onnx.ModelProto.FromString(model.SerializeToString())  # never mutate the caller's
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    int_inputs = {i.name: i for i in graph.input if i.name not in consts
                  and _np_type(i.type.tensor_type.elem_type).kind in "iu"}
    int_outputs = {o.name: o for o in graph.output if _np_type(o.type.tensor_type.elem_type).kind in "iu"}
    folded: list[Any] = []
    counter = iter(range(1 << 30))

    def const(value: float, hint: str) -> str:
        name = f"{hint}__dq{next(counter)}"
        folded.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def params(node: Any) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        scale = consts.get(node.input[1])
        if scale is None:
            raise ConversionError(f"dequantize: {node.op_type} {node.name!r} has a non-constant scale")
        zp_name = node.input[2] if len(node.input) > 2 else ""
        zp = consts[zp_name] if zp_name in consts else np.zeros((), np.uint8)
        return scale.astype(np.float64), zp.astype(np.float64), zp.dtype

    def readers(name: str) -> list[Any]:
        """What finally reads integer tensor `name`: DequantizeLinear nodes and output names."""
        found: list[Any] = [name] if name in int_outputs else []
        for node in consumers.get(name, []):
            if node.op_type in _LAYOUT_OPS:
                found += readers(node.output[0])
            elif node.op_type == "DequantizeLinear":
                found.append(node)
            else:
                raise ConversionError(f"dequantize: integer tensor {name!r} feeds {node.op_type} "
                                      f"{node.name!r}, not a DequantizeLinear")
        return found

    def origin(name: str) -> str:
        while name in producer and producer[name].op_type in _LAYOUT_OPS:
            name = producer[name].input[0]
        return name

    # activation QuantizeLinear outputs that only DequantizeLinear nodes with the same params read
    pairs = set()
    mappings: list[IoMapping] = []
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            ends = readers(node.output[0])
            if ends and all(not isinstance(e, str) and _same(params(e), params(node)) for e in ends):
                pairs.add(node.output[0])
            scale, zp, qtype = params(node)
            mappings += [IoMapping(e, "output", qtype.name, float(scale), int(zp))
                         for e in ends if isinstance(e, str)]
    for name in int_inputs:
        if any(isinstance(e, str) for e in readers(name)) or not readers(name):
            raise ConversionError(f"dequantize: integer input {name!r} feeds no DequantizeLinear")

    nodes = []
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            nodes.append(node)
            continue
        scale, zp, qtype = params(node)
        x, y = node.input[0], node.output[0]
        if node.op_type == "DequantizeLinear" and x in consts:  # a weight or bias: fold it
            axis = _axis(node, consts[x].ndim)
            shape = [-1 if i == axis else 1 for i in range(consts[x].ndim)] if scale.size > 1 else []
            real = (consts[x].astype(np.float64) - zp.reshape(shape)) * scale.reshape(shape)
            folded.append(numpy_helper.from_array(real.astype(np.float32), y))
            continue
        if scale.size > 1:
            raise ConversionError(f"dequantize: per-axis {node.op_type} {node.name!r} on an activation")
        s, z = float(scale), float(zp)
        fake = origin(x) in pairs or y in pairs
        if node.op_type == "DequantizeLinear":
            if origin(x) in int_inputs and origin(x) not in {m.name for m in mappings}:
                mappings.append(IoMapping(origin(x), "input", qtype.name, s, int(z)))
            if fake:  # its QuantizeLinear already made the real value
                nodes.append(helper.make_node("Identity", [x], [y], name=f"{y}__float"))
            else:
                nodes += _from_steps(helper, const, x, y, s, z)
        elif fake and activations == "float":
            nodes.append(helper.make_node("Identity", [x], [y], name=f"{y}__float"))
        elif fake:
            nodes += _fake_quant(helper, const, x, y, s, z, qtype)
        else:
            nodes += _to_steps(helper, const, x, y, s, z, qtype)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(folded)
    used = {n for node in graph.node for n in node.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    for value in (*int_inputs.values(), *int_outputs.values()):
        value.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    del graph.value_info[:]  # stale integer types; shape inference can rebuild them
    return model, mappings


def _np_type(elem_type: int) -> np.dtype:
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)) if elem_type else np.dtype(np.float32)


def _axis(node: Any, ndim: int) -> int:
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return axis + ndim if axis < 0 else axis


def _range(qtype: np.dtype) -> tuple[float, float]:
    info = np.iinfo(qtype)
    return float(info.min), float(info.max)


def _same(a: tuple[np.ndarray, np.ndarray, np.dtype], b: tuple[np.ndarray, np.ndarray, np.dtype]) -> bool:
    return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2])


def _to_steps(helper: Any, const: Any, x: str, y: str, s: float, z: float, qtype: np.dtype) -> list[Any]:
    """QuantizeLinear as float: y = clip(round(x / s) + z, qmin, qmax) (ONNX rounds half to even)."""
    lo, hi = _range(qtype)
    nodes = [helper.make_node("Div", [x, const(s, "scale")], [f"{y}__scaled"]),
             helper.make_node("Round", [f"{y}__scaled"], [f"{y}__rounded"])]
    last = f"{y}__rounded"
    if z:
        nodes.append(helper.make_node("Add", [last, const(z, "zp")], [f"{y}__shifted"]))
        last = f"{y}__shifted"
    nodes.append(helper.make_node("Clip", [last, const(lo, "qmin"), const(hi, "qmax")], [y]))
    return nodes


def _fake_quant(helper: Any, const: Any, x: str, y: str, s: float, z: float, qtype: np.dtype) -> list[Any]:
    """A QuantizeLinear -> DequantizeLinear pair as float: y = clip(round(x / s), qmin - z,
    qmax - z) * s, equal to ((clip(round(x / s) + z, qmin, qmax)) - z) * s for an integer z."""
    lo, hi = _range(qtype)
    return [helper.make_node("Div", [x, const(s, "scale")], [f"{y}__scaled"]),
            helper.make_node("Round", [f"{y}__scaled"], [f"{y}__rounded"]),
            helper.make_node("Clip", [f"{y}__rounded", const(lo - z, "qmin"), const(hi - z, "qmax")],
                             [f"{y}__clipped"]),
            helper.make_node("Mul", [f"{y}__clipped", const(s, "scale")], [y])]


def _from_steps(helper: Any, const: Any, q: str, y: str, s: float, z: float) -> list[Any]:
    """DequantizeLinear as float: y = (q - z) * s."""
    nodes = []
    if z:
        nodes.append(helper.make_node("Sub", [q, const(z, "zp")], [f"{y}__centred"]))
        q = f"{y}__centred"
    return [*nodes, helper.make_node("Mul", [q, const(s, "scale")], [y])]
