"""Rewrites of TFLite custom ops into builtin ops, one file per op, registered by op name.

Converters (tf2onnx, OpenVINO) and a stock LiteRT interpreter refuse custom ops such as
MediaPipe's `Convolution2DTransposeBias`. The `tflite` source loader reads the flatbuffer into
the object API, hands each custom op to the rewrite registered under its name, and writes a
model of builtin ops only. A custom op with no registered rewrite raises UnsupportedOpError.

A rewrite is `fn(model, subgraph, op) -> None`: it mutates `op` (and may append tensors and
buffers) in place so that it becomes a builtin op with the same inputs' meaning and outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgephoto.errors import InputFileError, UnsupportedOpError, require
from edgephoto.files import write_bytes_atomic
from edgephoto.registry import Registry

Rewrite = Callable[[Any, Any, Any], None]  # (ModelT, SubGraphT, OperatorT) -> None
REWRITES: Registry[Rewrite] = Registry(
    "tflite custom op",
    modules=("edgephoto.convert.tflite_ops.convolution_2d_transpose_bias",),
)
TFLITE_IDENTIFIER = b"TFL3"


def register_custom_op(name: str) -> Callable[[Rewrite], Rewrite]:
    """Register the rewrite for custom op `name` (once per name)."""
    return REWRITES.register(name)


def schema() -> Any:
    """The TFLite flatbuffer schema module (from ai_edge_litert, so TensorFlow is not needed)."""
    return require("ai_edge_litert.schema_py_generated", "runtime", "reading .tflite files")


def read_model(path: Path) -> Any:
    """Parse a .tflite file into the flatbuffer object API, or raise InputFileError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise InputFileError(path, "not a TFLite flatbuffer (no 'TFL3' identifier)")
    schema()
    from ai_edge_litert.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    except Exception as exc:  # flatbuffers raises struct.error/IndexError/... on damaged data
        raise InputFileError(path, f"damaged or truncated TFLite file ({exc})") from exc
    for buffer in model.buffers or []:
        if buffer.offset and buffer.offset + buffer.size > len(data):
            raise InputFileError(path, "truncated TFLite file (a weight buffer runs past the end)")
    if not model.subgraphs:
        raise InputFileError(path, "TFLite file has no subgraph")
    return model


def write_model(model: Any, path: Path) -> Path:
    """Serialise `model` to `path` atomically (temp file + os.replace)."""
    from ai_edge_litert.tools import flatbuffer_utils

    return write_bytes_atomic(path, bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def custom_op_names(model: Any) -> list[str]:
    """Names of the custom ops used in `model` (decoded, in opcode order)."""
    names = []
    for code in model.operatorCodes or []:
        if code.customCode:
            custom = code.customCode
            names.append(custom.decode() if isinstance(custom, bytes) else str(custom))
    return names


def opcode_index(model: Any, builtin: int, version: int) -> int:
    """Index of the operator code for `builtin` (added if absent; version raised if needed)."""
    fb = schema()
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin and not code.customCode:
            code.version = max(code.version, version)
            return i
    code = fb.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, fb.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def add_const_tensor(model: Any, subgraph: Any, name: str, array: Any) -> int:
    """Append a constant tensor (new buffer) to `subgraph`; returns its index."""
    import numpy as np

    fb = schema()
    types = {np.dtype("int32"): fb.TensorType.INT32, np.dtype("float32"): fb.TensorType.FLOAT32}
    array = np.ascontiguousarray(array)
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(array.tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    tensor = fb.TensorT()
    tensor.name = name.encode()
    tensor.shape = list(array.shape)
    tensor.type = types[array.dtype]
    tensor.buffer = len(model.buffers) - 1
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def rewrite_custom_ops(model: Any, target: str) -> list[str]:
    """Replace every custom op in `model` by builtins; returns the op names rewritten.

    `target` names what needs builtin ops (for the error when no rewrite exists).
    """
    rewritten: list[str] = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            if not code.customCode:
                continue
            name = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            if name not in REWRITES:
                raise UnsupportedOpError(
                    name, target, "custom TFLite op with no registered rewrite to builtin ops"
                )
            REWRITES.get(name)(model, subgraph, op)
            rewritten.append(name)
    used = {op.opcodeIndex for sg in model.subgraphs for op in sg.operators or []}
    _drop_unused_opcodes(model, used)
    return rewritten


def _drop_unused_opcodes(model: Any, used: set[int]) -> None:
    """Remove operator codes no op refers to any more (the replaced custom ones)."""
    keep = [i for i in range(len(model.operatorCodes)) if i in used]
    remap = {old: new for new, old in enumerate(keep)}
    model.operatorCodes = [model.operatorCodes[i] for i in keep]
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            op.opcodeIndex = remap[op.opcodeIndex]


def builtin_copy(path: Path, out: Path, target: str) -> tuple[Path, list[str]]:
    """Write `path` with its custom ops rewritten to `out`; returns (path used, ops rewritten).

    A model with no custom op is returned as is (no copy).
    """
    model = read_model(path)
    if not custom_op_names(model):
        return Path(path), []
    rewritten = rewrite_custom_ops(model, target)
    return write_model(model, out), rewritten
