"""TF.js sources: our own reader of model.json + weight shards (the tensorflowjs package pins an
older TensorFlow and cannot join the venv).

Layers models become tf_keras models (the topology is a Keras config); graph models become a
TF GraphDef (the topology is a GraphDef in JSON) with the weights as Const nodes and TF.js's
fused ops expanded into standard TF ops, so every downstream converter accepts them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.graph import (
    ConvertContext,
    Runner,
    register_edge,
    register_source_runner,
)
from edgephoto.convert.keras_passes import subpixel_upsample_conv
from edgephoto.convert.sources.tensorflow import (
    constant_inputs,
    frozen_graph_to_savedmodel,
    graph_def_function,
    keras_runner_for,
    keras_to_savedmodel,
)
from edgephoto.convert.sources.tfjs_topology import check_manifest, model_config
from edgephoto.convert.tf_common import custom_layers, import_tf, import_tf_keras
from edgephoto.errors import ConversionError, InputFileError, UnsupportedOpError

# Bytes per stored element, and the numpy dtype they are read as.
_STORED: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("u1"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
    "int8": np.dtype("i1"),
    "complex64": np.dtype("<c8"),
}


def read_model_json(path: Path) -> dict[str, Any]:
    """The parsed model.json; a missing or malformed file raises InputFileError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read: {exc}") from exc
    try:
        model = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(model, dict) or "modelTopology" not in model:
        raise InputFileError(path, "not a TF.js model.json (no modelTopology)")
    return model


def _decode(entry: dict[str, Any], raw: bytes) -> np.ndarray:
    """One manifest entry's bytes -> array of its declared dtype (dequantized if quantized)."""
    shape = [int(d) for d in entry.get("shape", [])]
    quant = entry.get("quantization")
    stored = _STORED[quant["dtype"] if quant else entry["dtype"]]
    values = np.frombuffer(raw, dtype=stored).reshape(shape)
    dtype = entry["dtype"]
    if quant and quant["dtype"] in ("uint8", "uint16", "int8"):
        values = values.astype(np.float32) * np.float32(quant["scale"]) + np.float32(
            quant.get("min", 0.0)
        )
        if dtype == "int32":
            values = np.rint(values)
    if dtype == "bool":
        return values.astype(bool)
    return values.astype(_STORED[dtype].newbyteorder("="), copy=True)


def read_weights(model_json: Path, model: dict[str, Any]) -> dict[str, np.ndarray]:
    """All weights by name: shards of a group concatenated in manifest order, then sliced."""
    root = Path(model_json).parent
    weights: dict[str, np.ndarray] = {}
    for group in check_manifest(model_json, model):
        blobs = []
        for name in group["paths"]:
            try:
                blobs.append((root / name).read_bytes())
            except OSError as exc:
                raise InputFileError(root / name, f"cannot read weight shard: {exc}") from exc
        data, offset = b"".join(blobs), 0
        for entry in group["weights"]:
            quant = entry.get("quantization")
            kind = quant["dtype"] if quant else entry["dtype"]
            size = int(np.prod(entry.get("shape", []), dtype=np.int64)) * _STORED[kind].itemsize
            if offset + size > len(data):
                raise InputFileError(
                    root / group["paths"][-1],
                    f"weight shards are truncated: '{entry['name']}' needs bytes "
                    f"{offset}..{offset + size}, the shards hold {len(data)}",
                )
            weights[entry["name"]] = _decode(entry, data[offset : offset + size])
            offset += size
        if offset != len(data):  # TF.js writes shards to the byte; extra bytes mean damage
            raise InputFileError(root / group["paths"][-1], f"weight shards hold {len(data)} bytes, "
                                                             f"the manifest describes {offset}")
    return weights


# --- layers models ----------------------------------------------------------------------------


def load_layers_model(model_json: Path) -> Any:
    """A tf_keras model with every weight set by name from the shards."""
    keras = import_tf_keras()
    model = read_model_json(model_json)
    if model.get("format", "layers-model") != "layers-model":
        raise InputFileError(model_json, f"format is {model.get('format')}, not layers-model")
    config = model_config(model_json, model)  # raises on a topology tf_keras would loop on
    weights = read_weights(model_json, model)
    try:
        with warnings.catch_warnings():  # unseeded-initializer noise; weights are set below
            warnings.simplefilter("ignore", UserWarning)
            net = keras.models.model_from_json(json.dumps(config), custom_objects=custom_layers())
    except Exception as exc:  # layer constructors raise whatever their arguments provoke
        raise ConversionError(f"{model_json}: Keras cannot build the topology "
                              f"({type(exc).__name__}: {str(exc)[:160]})") from exc
    used: set[str] = set()
    values = []
    for w in net.weights:
        name = w.name.split(":")[0]
        if name not in weights:  # nested models prefix names differently in TF.js exports
            name = next((k for k in weights if name.endswith("/" + k) or k.endswith("/" + name)), name)
        if name not in weights:
            raise InputFileError(model_json, f"weights have no entry for layer weight '{name}'")
        if tuple(weights[name].shape) != tuple(w.shape):
            raise InputFileError(
                model_json, f"weight '{name}' is {weights[name].shape}, the layer wants {w.shape}"
            )
        values.append(weights[name])
        used.add(name)
    unused = sorted(set(weights) - used)
    if unused:
        raise InputFileError(model_json, f"weights not used by any layer: {unused[:5]}")
    net.set_weights(values)
    return net


@register_edge("tfjs_layers", "savedmodel")
def tfjs_layers_to_savedmodel(path: Path, ctx: ConvertContext) -> Path:
    net, notes = subpixel_upsample_conv(load_layers_model(_entry(path)))
    ctx.notes.extend(notes)
    return keras_to_savedmodel(net, ctx.spec, ctx.workdir / f"{ctx.spec.name}_savedmodel")


@register_source_runner("tfjs_layers")
def tfjs_layers_runner(path: Path, ctx: ConvertContext) -> Runner:
    return keras_runner_for(load_layers_model(_entry(path)), ctx.spec)


def _entry(path: Path) -> Path:
    """Accept the model.json itself or the directory holding it."""
    path = Path(path)
    return path / "model.json" if path.is_dir() else path


# --- graph models -----------------------------------------------------------------------------

# TF.js fused op -> (standard TF op, number of main inputs before the bias).
_FUSED = {
    "_FusedConv2D": "Conv2D",
    "FusedConv2D": "Conv2D",
    "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
    "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
    "_FusedMatMul": "MatMul",
    "FusedMatMul": "MatMul",
}
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "LeakyRelu", "Prelu"}
# Attributes each base op accepts (the fused forms carry extra ones that the base ops reject).
_BASE_ATTRS = {
    "Conv2D": {"T", "strides", "padding", "explicit_paddings", "data_format", "dilations",
               "use_cudnn_on_gpu"},
    "DepthwiseConv2dNative": {"T", "strides", "padding", "explicit_paddings", "data_format",
                              "dilations"},
    "MatMul": {"T", "transpose_a", "transpose_b"},
}


def _fused_ops(node: Any) -> list[str]:
    return [s.decode() for s in node.attr["fused_ops"].list.s]


def _expand_fused(graph_def: Any) -> Any:
    """Rewrite TF.js fused conv/depthwise/matmul nodes as base op + BiasAdd + activation.

    The last node keeps the fused node's name so consumers need no rewiring.
    """
    tf = import_tf()
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op not in _FUSED:
            out.node.add().CopyFrom(node)
            continue
        base_op = _FUSED[node.op]
        ops = _fused_ops(node)
        data = [i for i in node.input if not i.startswith("^")]
        control = [i for i in node.input if i.startswith("^")]
        extra = data[2:]
        bias_ops = [op for op in ops if op == "BiasAdd"]
        acts = [op for op in ops if op != "BiasAdd"]
        if len(bias_ops) > 1 or len(acts) > 1 or any(a not in _ACTIVATIONS for a in acts):
            raise UnsupportedOpError(f"{node.op}({','.join(ops)})", "tfjs_graph")
        steps: list[tuple[str, list[str], dict[str, Any]]] = []
        base_attrs = {k: node.attr[k] for k in node.attr if k in _BASE_ATTRS[base_op]}
        steps.append((base_op, data[:2], base_attrs))
        dtype = {"T": node.attr["T"]}
        if bias_ops:
            bias_attrs = dict(dtype)
            if base_op != "MatMul" and "data_format" in node.attr:
                bias_attrs["data_format"] = node.attr["data_format"]
            steps.append(("BiasAdd", [extra.pop(0)], bias_attrs))
        for act in acts:
            attrs = dict(dtype)
            if act == "LeakyRelu":
                alpha = node.attr["leakyrelu_alpha"].f if "leakyrelu_alpha" in node.attr else 0.2
                attrs["alpha"] = tf.compat.v1.AttrValue(f=alpha)
            if act == "Prelu":  # relu(x) - alpha * relu(-x) in standard ops
                steps.append(("Prelu", [extra.pop(0)], attrs))
            else:
                steps.append((act, [], attrs))
        previous = ""
        for k, (op, inputs, attrs) in enumerate(steps):
            last = k == len(steps) - 1
            name = node.name if last else f"{node.name}/_{op.lower()}_{k}"
            ins = inputs if k == 0 else [previous, *inputs]
            _add_node(out, tf, name, op, ins + (control if k == 0 else []), attrs)
            previous = name
    return out


def _add_node(out: Any, tf: Any, name: str, op: str, inputs: list[str], attrs: dict[str, Any]) -> None:
    if op == "Prelu":
        x, alpha = inputs
        t = attrs["T"]
        neg = f"{name}/neg"
        _add_node(out, tf, f"{name}/pos", "Relu", [x], {"T": t})
        _add_node(out, tf, f"{name}/negx", "Neg", [x], {"T": t})
        _add_node(out, tf, neg, "Relu", [f"{name}/negx"], {"T": t})
        _add_node(out, tf, f"{name}/scaled", "Mul", [alpha, neg], {"T": t})
        _add_node(out, tf, name, "Sub", [f"{name}/pos", f"{name}/scaled"], {"T": t})
        return
    node = out.node.add()
    node.name, node.op = name, op
    node.input.extend(inputs)
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)


def load_graph_model(model_json: Path) -> tuple[Any, dict[str, Any]]:
    """(GraphDef with weights as Const values and standard ops, the model.json dict)."""
    tf = import_tf()
    from google.protobuf import json_format  # type: ignore[import-untyped]

    model = read_model_json(model_json)
    if model.get("format", "graph-model") != "graph-model":
        raise InputFileError(model_json, f"format is {model.get('format')}, not graph-model")
    weights = read_weights(model_json, model)
    topology = {k: v for k, v in model["modelTopology"].items() if k in ("node", "library", "versions")}
    graph_def = tf.compat.v1.GraphDef()
    try:
        json_format.ParseDict(topology, graph_def)
    except json_format.ParseError as exc:
        raise InputFileError(model_json, f"modelTopology is not a GraphDef ({exc})") from exc
    for node in graph_def.node:
        node.device = ""
        if node.op == "Const" and node.name in weights:
            value = weights[node.name]
            dtype = tf.as_dtype(node.attr["dtype"].type)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value.astype(dtype.as_numpy_dtype)))
        elif node.op == "Const" and not node.attr["value"].tensor.ByteSize():
            raise InputFileError(model_json, f"no weights for constant '{node.name}'")
    graph_def = _expand_fused(graph_def)
    _check_ops(graph_def)
    _add_signature_names(graph_def, model)
    return graph_def, model


def _check_ops(graph_def: Any) -> None:
    """Every op must be a registered TF op, else UnsupportedOpError names it."""
    from tensorflow.python.framework import op_def_registry  # type: ignore[import-untyped]

    functions = {f.signature.name for f in graph_def.library.function}
    for node in graph_def.node:
        if op_def_registry.get(node.op) is None and node.op not in functions:
            raise UnsupportedOpError(node.op, "tfjs_graph", f"node '{node.name}'")


def _add_signature_names(graph_def: Any, model: dict[str, Any]) -> None:
    """Add Identity nodes named by the signature's output keys (e.g. RVM's 'pha' for
    'Identity_1:0'), so specs can name outputs as the model's authors did."""
    names = {n.name for n in graph_def.node}
    dtypes = {"DT_FLOAT": 1, "DT_INT32": 3}
    outputs = (model.get("signature") or {}).get("outputs", {})
    for key, info in outputs.items():
        alias = key.split(":")[0]
        target = info.get("name", key)
        if alias in names or target.split(":")[0] == alias:
            continue
        node = graph_def.node.add()
        node.name, node.op = alias, "Identity"
        node.input.append(target[:-2] if target.endswith(":0") else target)
        node.attr["T"].type = dtypes.get(info.get("dtype", "DT_FLOAT"), 1)
        names.add(alias)


def write_frozen_pb(graph_def: Any, out: Path) -> Path:
    """Write the GraphDef atomically."""
    from edgephoto.files import write_bytes_atomic

    return write_bytes_atomic(out, graph_def.SerializeToString())


@register_edge("tfjs_graph", "frozen_pb")
def tfjs_graph_to_frozen_pb(path: Path, ctx: ConvertContext) -> Path:
    graph_def, _ = load_graph_model(_entry(path))
    return write_frozen_pb(graph_def, ctx.workdir / f"{ctx.spec.name}.pb")


@register_edge("tfjs_graph", "savedmodel")
def tfjs_graph_to_savedmodel(path: Path, ctx: ConvertContext) -> Path:
    graph_def, _ = load_graph_model(_entry(path))
    return frozen_graph_to_savedmodel(graph_def, ctx.spec, ctx.workdir / f"{ctx.spec.name}_savedmodel")


@register_source_runner("tfjs_graph")
def tfjs_graph_runner(path: Path, ctx: ConvertContext) -> Runner:
    spec = ctx.spec
    graph_def, _ = load_graph_model(_entry(path))
    outputs = [t.name for t in spec.outputs]
    fn = graph_def_function(graph_def, spec.inputs, outputs, constant_inputs(spec))

    def run(feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        missing = [t.name for t in spec.inputs if t.name not in feeds]
        if missing:
            raise ConversionError(f"{spec.name}: feeds lack inputs {missing}")
        results = fn(*[np.asarray(feeds[t.name], dtype=t.dtype) for t in spec.inputs])
        return {t.name: np.asarray(r) for t, r in zip(spec.outputs, results, strict=True)}

    return run
