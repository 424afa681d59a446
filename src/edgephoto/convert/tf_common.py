"""What the TensorFlow-family modules share: the framework imports (with the extra to install),
GraphDef placeholder fixing and static control-flow folding, and the Keras classes of the custom
layers TF.js models use. A leaf: it imports no other convert module, so the sources
(tensorflow, tfjs) and the passes (keras_passes, tf_passes) all stand on it without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgephoto.errors import ConversionError, require
from edgephoto.zoo.spec import TensorSpec


def import_tf() -> Any:
    """TensorFlow, or MissingExtraError naming the extra that installs it."""
    return require("tensorflow", "convert", "TensorFlow-family sources")


def import_tf_keras() -> Any:
    return require("tf_keras", "convert", "Keras and TF.js layers models")


def tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def fix_placeholder_shapes(
    graph_def: Any, inputs: Sequence[TensorSpec], constants: dict[str, np.ndarray] | None = None
) -> Any:
    """Copy of `graph_def` whose input placeholders have the spec's shapes (None stays -1) and
    whose `constants` placeholders are Const nodes of the given values."""
    tf = import_tf()
    fixed = tf.compat.v1.GraphDef()
    fixed.CopyFrom(graph_def)
    nodes = {n.name: n for n in fixed.node}
    for t in inputs:
        node = nodes.get(t.name.split(":")[0])
        if node is None or node.op != "Placeholder":
            raise ConversionError(f"graph has no placeholder '{t.name}' (spec input)")
        shape = tf.TensorShape(list(t.shape)).as_proto()
        node.attr["shape"].shape.CopyFrom(shape)
    for name, value in (constants or {}).items():
        node = nodes.get(name)
        if node is None or node.op != "Placeholder":
            raise ConversionError(f"graph has no placeholder '{name}' (spec constant input)")
        dtype = node.attr["dtype"].type
        node.op = "Const"
        node.ClearField("attr")
        node.attr["dtype"].type = dtype
        array = value.astype(tf.as_dtype(dtype).as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(array))
    if constants and any(n.op == "Switch" for n in fixed.node):
        fixed = fold_static_control_flow(fixed)
    return fixed


def _evaluate(graph_def: Any, tensors: Sequence[str]) -> dict[str, Any]:
    """Values of the tensors that need no feed (others are left out). Control edges are
    dropped first: they order execution but carry no value (RVM's hang off every input)."""
    tf = import_tf()
    values: dict[str, Any] = {}
    data_only = tf.compat.v1.GraphDef()
    data_only.CopyFrom(graph_def)
    for node in data_only.node:
        kept = [r for r in node.input if not r.startswith("^")]
        del node.input[:]
        node.input.extend(kept)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(data_only, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        for name in tensors:
            try:
                values[name] = session.run(tensor_name(name))
            except tf.errors.OpError:
                continue
    return values


def fold_static_control_flow(graph_def: Any) -> Any:
    """Resolve TF1 Switch/Merge whose predicate is a constant (e.g. RVM's cond on a frozen
    downsample_ratio): the live branch stays, the dead one is removed. TFLite and OpenVINO
    reject v1 control flow; tf2onnx accepts it, so nothing is lost."""
    tf = import_tf()
    switches = [n for n in graph_def.node if n.op == "Switch"]
    preds = _evaluate(graph_def, sorted({n.input[1] for n in switches}))
    taken = {n.name: int(bool(preds[n.input[1]])) for n in switches if n.input[1] in preds}
    if not taken:
        return graph_def

    def source(ref: str) -> tuple[str, int]:
        name, _, index = ref.lstrip("^").partition(":")
        return name, int(index or 0)

    dead: set[str] = set()
    for node in graph_def.node:  # GraphDefs from TF/TF.js are in topological order
        refs = [source(r) for r in node.input]
        dead_in = [(n in dead) or (n in taken and i != taken[n] and not r.startswith("^"))
                   for (n, i), r in zip(refs, node.input, strict=True)]
        if (node.op == "Merge" and dead_in and all(dead_in)) or (node.op != "Merge" and any(dead_in)):
            dead.add(node.name)
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name in dead:
            continue
        new = out.node.add()
        new.CopyFrom(node)
        inputs = [r for r in node.input if source(r)[0] not in dead]
        if node.op == "Merge":
            live = [r for r in inputs if not r.startswith("^")]
            inputs = live[:1] + [r for r in inputs if r.startswith("^")]
        if node.name in taken or node.op == "Merge":
            new.op = "Identity"
            keep = {"T": node.attr["T"]}
            new.ClearField("attr")
            new.attr["T"].CopyFrom(keep["T"])
            if node.name in taken:  # Switch(data, pred) -> Identity(data)
                inputs = [node.input[0], *(r for r in inputs if r.startswith("^"))]
        del new.input[:]
        new.input.extend(
            f"{source(r)[0]}" if source(r)[0] in taken and not r.startswith("^") else r
            for r in inputs
        )
    return out


def custom_layers() -> dict[str, Any]:
    """Keras classes for the custom layers UpscalerJS registers (ESRGAN thick: MultiplyBeta,
    PixelShuffle{N}x = depth_to_space). Their configs carry `beta` / `scale`."""
    tf = import_tf()
    keras = import_tf_keras()

    layer: Any = keras.layers.Layer

    class MultiplyBeta(layer):
        def __init__(self, beta: float = 0.2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.beta = beta

        def call(self, inputs: Any) -> Any:
            return inputs * self.beta

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "beta": self.beta}

    class PixelShuffle(layer):
        def __init__(self, scale: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.scale = int(scale)

        def call(self, inputs: Any) -> Any:
            return tf.nn.depth_to_space(inputs, self.scale, data_format="NHWC")

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "scale": self.scale}

    layers: dict[str, Any] = {"MultiplyBeta": MultiplyBeta}
    for n in range(2, 9):
        layers[f"PixelShuffle{n}x"] = type(f"PixelShuffle{n}x", (PixelShuffle,), {})
    return layers
