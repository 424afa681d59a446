"""Fuse PReLU spelled as Relu/Abs/Sub/Mul/Add (or Relu/Neg/Mul/Add) into one ONNX PRelu node.

tf2onnx keeps FSRCNN's `Relu(x) + (x - Abs(x)) * (alpha / 2)` as five ops; onnxruntime then
spends ~40 % of the model's time in them. The pattern and the exactness rule live in
`edgephoto.convert.prelu_pattern`; this pass only reads and rewrites ONNX. The slope keeps the
broadcast shape the graph already had (e.g. [1, C, 1, 1] after tf2onnx's NCHW transpose), so
PRelu computes the same floats as the ops it replaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.convert.prelu_pattern import fits, match_prelu

STANDARD = ("", "ai.onnx")


class _OnnxView:
    """The GraphView of an ONNX graph (initializers and Constant nodes are constants)."""

    def __init__(self, model: Any) -> None:
        from onnx import numpy_helper

        graph = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.nodes = {}
        self.count: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.count[name] = self.count.get(name, 0) + 1
            if node.op_type == "Constant" and node.domain in STANDARD:
                value = next((a for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.consts[node.output[0]] = numpy_helper.to_array(value.t)
            elif node.domain in STANDARD and len(node.output) == 1:
                self.nodes[node.output[0]] = node
        for output in graph.output:
            self.count[output.name] = self.count.get(output.name, 0) + 1

    def producer(self, tensor: str) -> tuple[str, list[str]] | None:
        node = self.nodes.get(tensor)
        return None if node is None else (node.op_type, list(node.input))

    def constant(self, tensor: str) -> np.ndarray | None:
        return self.consts.get(tensor)

    def uses(self, tensor: str) -> int:
        return self.count.get(tensor, 0)


def static_shapes(model: Any) -> dict[str, list[int | None] | None]:
    """Static shapes ONNX shape inference finds (None for an unknown dimension or rank)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # an unusual graph: every shape unknown, only scalar slopes fuse
        return {}
    graph = inferred.graph
    shapes: dict[str, list[int | None] | None] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor = value.type.tensor_type
        shapes[value.name] = ([d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
                              if tensor.HasField("shape") else None)
    return shapes


def fuse_prelu(model: Any) -> tuple[Any, int]:
    """A copy of `model` with every exact PReLU pattern as one PRelu node; returns (model, count)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())  # never mutate the caller's
    graph = model.graph
    if not any(n.op_type == "Relu" for n in graph.node):
        return model, 0
    view = _OnnxView(model)
    shapes = static_shapes(model)
    replaced: dict[str, Any] = {}  # output tensor of the Add/Sub -> its PRelu
    dropped: set[str] = set()
    slopes = []
    for node in graph.node:
        if node.op_type not in ("Add", "Sub") or node.domain not in STANDARD or len(node.output) != 1:
            continue
        found = match_prelu(view, node.output[0])
        if found is None or not fits(found.slope, shapes.get(found.x)):
            continue
        slope_name = f"{node.output[0]}__prelu_slope"
        slopes.append(numpy_helper.from_array(found.slope, slope_name))
        replaced[node.output[0]] = helper.make_node("PRelu", [found.x, slope_name], [node.output[0]],
                                                    name=node.name or f"{node.output[0]}__prelu")
        dropped.update({found.relu, *found.removed})
    if not replaced:
        return model, 0
    nodes = [replaced.get(n.output[0], n) if len(n.output) == 1 else n for n in graph.node
             if not (len(n.output) == 1 and n.output[0] in dropped)]
    used = {name for n in nodes for name in n.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "Constant" or any(o in used for o in n.output)]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(slopes)
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    kept_info = [v for v in graph.value_info if v.name not in dropped]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    return model, len(replaced)
