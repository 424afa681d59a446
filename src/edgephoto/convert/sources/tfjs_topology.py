"""Checks of a TF.js model.json before anything is built from it.

tf_keras rebuilds a layers model by calling each layer on the nodes its inbound references name,
re-queueing a call whose inputs do not exist yet; a reference to a node that is never made (a
layer with no inbound nodes, a cycle, a node index past the layer's calls) makes that loop spin
forever. So the whole reconstruction is replayed here on the plain JSON first, and every
structural fault (topology or weights manifest) raises InputFileError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgephoto.errors import InputFileError

# Bytes per stored element of each manifest dtype.
STORED_ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "uint16": 2, "float16": 2,
                   "int8": 1, "complex64": 8}
# Layer config keys that size the weights Keras allocates while building: a mutated
# `filters: 1e9` would try to allocate hundreds of GB before any weight is compared.
_SIZE_KEYS = ("filters", "units", "kernel_size", "strides", "dilation_rate", "pool_size",
              "depth_multiplier", "groups", "input_dim", "output_dim")
_MAX_SIZE = 1 << 16
_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "input_shape")
_MODEL_CLASSES = ("Functional", "Model", "Sequential")
_CONSTANT = "_CONSTANT_VALUE"  # tf_keras's marker for a constant call argument
_ALWAYS = 1 << 62  # an InputLayer's one node exists from the start, whatever index is asked


def model_config(model_json: Path, model: dict[str, Any]) -> dict[str, Any]:
    """The Keras model config of a layers model.json, checked so tf_keras cannot hang on it."""
    topology = model["modelTopology"]
    config = topology.get("model_config", topology) if isinstance(topology, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise InputFileError(model_json, "layers model without a Keras model_config")
    if config["class_name"] == "Model":  # TF.js writes Functional models under the old name
        config = {**config, "class_name": "Functional"}
    check_topology(model_json, config)
    return config


def _fail(model_json: Path, where: str, problem: str) -> InputFileError:
    return InputFileError(model_json, f"malformed layers topology: {where}{problem}")


def _is_ref(value: Any) -> bool:
    """The form tf_keras reads as a reference: [layer, node, tensor] or [..., kwargs]."""
    return isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refs(node: Any, model_json: Path, where: str) -> Iterator[list[Any]]:
    """Every reference in one node's data (nested lists/dicts), kwargs references included."""
    if _is_ref(node):
        if node[0] == _CONSTANT:
            return
        if not (_is_index(node[1]) and _is_index(node[2])):
            raise _fail(model_json, where, f"reference {node[:3]} needs node and tensor indices >= 0")
        if len(node) == 4:
            if not isinstance(node[3], dict):
                raise _fail(model_json, where, f"reference {node[:3]} has call arguments {node[3]!r}")
            yield from _kwarg_refs(node[3])
        yield node
    elif isinstance(node, list) and node:
        for item in node:
            yield from _refs(item, model_json, where)
    else:
        raise _fail(model_json, where, f"{node!r} is not a layer reference")


def _kwarg_refs(value: Any) -> Iterator[list[Any]]:
    """References inside call arguments (tensors passed by keyword); other values are data."""
    if _is_ref(value) and value[0] != _CONSTANT and _is_index(value[1]):
        yield value
    elif isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _kwarg_refs(item)


def _check_layer_config(model_json: Path, where: str, config: Any) -> None:
    if not isinstance(config, dict):
        raise _fail(model_json, where, "config is not an object")
    for key in _SHAPE_KEYS:
        shape = config.get(key)
        if shape is not None and not (
            isinstance(shape, list) and all(d is None or _is_index(d) for d in shape)
        ):
            raise _fail(model_json, where, f"{key} {shape!r} is not a list of sizes or null")
    for key in _SIZE_KEYS:
        value = config.get(key)
        values: list[Any] = value if isinstance(value, list) else [value]
        if value is not None and not all(_is_index(v) and v <= _MAX_SIZE for v in values):
            raise _fail(model_json, where, f"{key} {value!r} is not a size (0..{_MAX_SIZE})")


def _first_node(layer: dict[str, Any]) -> int:
    """The first node index the config uses for a layer: nested models built on an Input
    keep their own first call out of the config, so the outer references count from 1."""
    if layer["class_name"] in ("Functional", "Model"):
        return 1
    if layer["class_name"] == "Sequential":
        inner = layer["config"].get("layers") or [{}]
        first = inner[0] if isinstance(inner[0], dict) else {}
        config = first.get("config")
        shaped = isinstance(config, dict) and "batch_input_shape" in config
        return int(first.get("class_name") == "InputLayer" or shaped)
    return 0


def check_topology(model_json: Path, config: dict[str, Any], where: str = "") -> None:
    """Functional: replay tf_keras's reconstruction (every reference resolves to a node some
    layer call makes, in an order that terminates). Sequential: layers are well formed."""
    body = config.get("config")
    if not isinstance(body, dict) or not isinstance(body.get("layers"), list) or not body["layers"]:
        raise _fail(model_json, where, f"{config['class_name']} config has no layers list")
    layers = body["layers"]
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            raise _fail(model_json, where, f"layer {index} has no class_name")
        name = layer.get("name") or f"#{index}"
        _check_layer_config(model_json, f"{where}layer '{name}': ", layer.get("config"))
        if layer["class_name"] in _MODEL_CLASSES:
            check_topology(model_json, layer, f"{where}{name}/")
    if config["class_name"] != "Functional":
        return
    names = [layer.get("name") for layer in layers]
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise _fail(model_json, where, "layer names are missing or repeated")
    known = set(names)
    pending: dict[str, list[list[list[Any]]]] = {}
    made: dict[str, int] = {}
    first: dict[str, int] = {}
    for layer in layers:
        name, nodes = layer["name"], layer.get("inbound_nodes")
        if not isinstance(nodes, list):
            raise _fail(model_json, where, f"layer '{name}' has no inbound_nodes list")
        first[name] = _first_node(layer)
        made[name] = _ALWAYS if layer["class_name"] == "InputLayer" else first[name]
        calls = [list(_refs(node, model_json, f"{where}layer '{name}': ")) for node in nodes]
        if layer["class_name"] != "InputLayer":
            pending[name] = calls
        for ref in (r for call in calls for r in call):
            if ref[0] not in known:
                raise _fail(model_json, where, f"layer '{name}' refers to no layer '{ref[0]}'")
    _replay(model_json, where, names, pending, made, first)
    for key in ("input_layers", "output_layers"):
        ends = body.get(key)
        refs = list(_refs(ends, model_json, f"{where}{key}: ")) if ends else []
        if not refs:
            raise _fail(model_json, where, f"{key} names no layer")
        for ref in refs:
            if ref[0] not in made or not first.get(ref[0], 0) <= ref[1] < made[ref[0]]:
                raise _fail(model_json, where, f"{key} refers to {ref[:3]}, which no layer call makes")


def _replay(model_json: Path, where: str, names: list[str], pending: dict[str, list[list[list[Any]]]],
            made: dict[str, int], first: dict[str, int]) -> None:
    """tf_keras's loop: sweep the layers in order, calling each one's next node once all the
    nodes it references exist; a sweep that makes nothing would repeat forever."""
    def ready(ref: list[Any]) -> bool:
        return first[ref[0]] <= ref[1] < made[ref[0]]

    pending = {name: calls for name, calls in pending.items() if calls}
    while pending:
        progressed = False
        for name in names:
            calls = pending.get(name)
            while calls and all(ready(ref) for ref in calls[0]):
                calls.pop(0)
                made[name] += 1
                progressed = True
            if calls == []:
                del pending[name]
        if not progressed:
            name, calls = next(iter(pending.items()))
            waits = [ref[:3] for ref in calls[0] if not ready(ref)]
            raise _fail(model_json, where, f"layer '{name}' waits for {waits}, which no layer call "
                                           "makes (a missing node or a cycle)")


def check_manifest(model_json: Path, model: dict[str, Any]) -> list[dict[str, Any]]:
    """The weightsManifest groups, each with shard paths inside the model's directory and
    entries of a known dtype, a shape of sizes and (if quantized) numeric scale/min."""
    groups = model.get("weightsManifest", [])
    if not isinstance(groups, list):
        raise InputFileError(model_json, "weightsManifest is not a list")
    for group in groups:
        paths = group.get("paths") if isinstance(group, dict) else None
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise InputFileError(model_json, f"weightsManifest group without shard paths: {str(group)[:80]}")
        outside = [p for p in paths if Path(p).is_absolute() or ".." in Path(p).parts]
        if outside:
            raise InputFileError(model_json, f"weight shard path outside the model's directory: {outside[0]}")
        entries = group.get("weights")
        if not isinstance(entries, list):
            raise InputFileError(model_json, f"weightsManifest group {paths} has no weights list")
        for entry in entries:
            _check_entry(model_json, entry)
    return groups


def _check_entry(model_json: Path, entry: Any) -> None:
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str):
        raise InputFileError(model_json, f"weight entry without a name: {str(entry)[:80]}")
    shape = entry.get("shape", [])
    if not isinstance(shape, list) or not all(_is_index(d) for d in shape):
        raise InputFileError(model_json, f"weight '{name}' has shape {shape!r}, not a list of sizes")
    quant = entry.get("quantization")
    if entry.get("dtype") not in STORED_ITEMSIZE:
        raise InputFileError(model_json, f"weight '{name}' has dtype {entry.get('dtype')!r}")
    if quant is None:
        return
    scaled = isinstance(quant, dict) and quant.get("dtype") in ("uint8", "uint16", "int8")
    numbers = [quant.get("scale"), quant.get("min", 0.0)] if scaled else [0.0]
    if (not isinstance(quant, dict) or quant.get("dtype") not in STORED_ITEMSIZE
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)):
        raise InputFileError(model_json, f"weight '{name}' has quantization {str(quant)[:80]}")
