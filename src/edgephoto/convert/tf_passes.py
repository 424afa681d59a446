"""Rewrites of TF GraphDefs before they become SavedModels (so every target sees them).

`fuse_prelu_graph_def`: TF1 graphs such as FSRCNN spell PReLU as
`Relu(x) + alpha * (x - Abs(x)) * 0.5`, which TFLiteConverter keeps as five ops. It fuses into
one PRELU only the tf.keras spelling `Relu(x) + (-alpha) * Relu(Neg(x))` with alpha shaped
like x without its batch dimension (e.g. [1, 1, C] for NHWC; checked on the op list of the
converted model), so each exact match (see `edgephoto.convert.prelu_pattern`) is rewritten into
that form. The new form gives the same floats: Relu(-x) = -x exactly, (-s)(-x) = s·x rounds once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgephoto.convert.prelu_pattern import ADD_OPS, fits, match_prelu
from edgephoto.zoo.spec import TensorSpec


def _ref(name: str) -> str:
    """A GraphDef input reference as a tensor name ("node:index")."""
    return name if ":" in name else f"{name}:0"


class _GraphDefView:
    """The GraphView of a GraphDef (Const nodes, also behind Identity, are constants)."""

    def __init__(self, tf: Any, graph_def: Any, keep: set[str]) -> None:
        self.tf = tf
        self.nodes = {n.name: n for n in graph_def.node}
        self.count: dict[str, int] = {}
        for node in graph_def.node:
            for ref in node.input:  # a control edge on a node counts as a use of its output
                key = _ref(ref.lstrip("^"))
                self.count[key] = self.count.get(key, 0) + 1
        for name in keep:
            self.count[_ref(name)] = self.count.get(_ref(name), 0) + 1

    def _node(self, tensor: str) -> Any:
        name, _, index = tensor.partition(":")
        node = self.nodes.get(name)
        return node if node is not None and index in ("", "0") else None

    def producer(self, tensor: str) -> tuple[str, list[str]] | None:
        node = self._node(tensor)
        if node is None or node.op in ("Const", "Placeholder") or any(r.startswith("^") for r in node.input):
            return None
        return node.op, [_ref(r) for r in node.input]

    def constant(self, tensor: str) -> np.ndarray | None:
        node = self._node(tensor)
        while node is not None and node.op == "Identity" and len(node.input) == 1:
            node = self._node(_ref(node.input[0]))
        if node is None or node.op != "Const":
            return None
        return self.tf.make_ndarray(node.attr["value"].tensor)

    def uses(self, tensor: str) -> int:
        return self.count.get(_ref(tensor), 0)


def _static_shapes(tf: Any, graph_def: Any, tensors: list[str],
                   inputs: Sequence[TensorSpec]) -> dict[str, list[int | None] | None]:
    """Static shapes of `tensors` once the graph is imported with the `inputs` shapes."""
    from edgephoto.convert.tf_common import fix_placeholder_shapes

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(fix_placeholder_shapes(graph_def, inputs), name="")
    shapes: dict[str, list[int | None] | None] = {}
    for name in tensors:
        shape = graph.get_tensor_by_name(name).shape
        shapes[name] = None if shape.rank is None else list(shape.as_list())
    return shapes


def _keras_slope(slope: np.ndarray, shape: list[int | None] | None) -> np.ndarray | None:
    """`slope` shaped like x without its batch dimension (what TFLite fuses), or None."""
    if shape is None or len(shape) < 2 or not fits(slope, shape):
        return None
    full = slope.reshape((1,) * (len(shape) - slope.ndim) + slope.shape)
    return full.reshape(full.shape[1:]) if full.shape[0] == 1 else None


def fuse_prelu_graph_def(graph_def: Any, inputs: Sequence[TensorSpec] = (),
                         keep: Sequence[str] = ()) -> tuple[Any, int]:
    """A copy of `graph_def` with each exact PReLU pattern in the tf.keras form; returns
    (graph_def, count). `inputs` fix the placeholder shapes that decide the slope's shape;
    `keep` names tensors read from outside (the outputs): never removed."""
    from edgephoto.convert.tf_common import import_tf

    tf = import_tf()
    view = _GraphDefView(tf, graph_def, set(keep))
    matches = [m for n in graph_def.node if n.op in (*ADD_OPS, "Sub")
               and (m := match_prelu(view, f"{n.name}:0")) is not None]
    if not matches:
        return graph_def, 0
    shapes = _static_shapes(tf, graph_def, sorted({m.x for m in matches}), inputs)
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    by_name = {n.name: n for n in out.node}
    dropped: set[str] = set()
    count = 0
    for found in matches:
        slope = _keras_slope(found.slope, shapes.get(found.x))
        if slope is None:
            continue
        top = by_name[found.output.split(":")[0]]
        dtype = top.attr["T"]
        base = f"{top.name}/prelu"
        neg_x = out.node.add(name=f"{base}/neg_x", op="Neg", input=[found.x])
        relu_neg = out.node.add(name=f"{base}/relu_neg_x", op="Relu", input=[neg_x.name])
        alpha = out.node.add(name=f"{base}/neg_alpha", op="Const")
        alpha.attr["dtype"].type = dtype.type
        alpha.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(
            (-slope).astype(tf.as_dtype(dtype.type).as_numpy_dtype)))
        mul = out.node.add(name=f"{base}/mul", op="Mul", input=[alpha.name, relu_neg.name])
        for node in (neg_x, relu_neg, mul):
            node.attr["T"].CopyFrom(dtype)
        top.op = "AddV2"
        del top.input[:]
        top.input.extend([found.relu, mul.name])
        dropped.update(t.split(":")[0] for t in found.removed)
        count += 1
    kept = [n for n in out.node if n.name not in dropped]
    used = {_ref(r.lstrip("^")).split(":")[0] for n in kept for r in n.input} | {k.split(":")[0] for k in keep}
    kept = [n for n in kept if n.op != "Const" or n.name in used]
    del out.node[:]
    out.node.extend(kept)
    return out, count
