"""Reference backend: runs a small ONNX graph of basic ops in plain numpy, exactly.

For testing tiling, stitching and pipeline code with no inference engine: slow, CPU only, but
every op is a few readable lines (reference_ops.py). `onnx` parses the file; an op it does not
know raises UnsupportedOpError at load time, naming the op.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import InputFileError, UnsupportedOpError, require
from edgephoto.runtime.backends import BACKENDS
from edgephoto.runtime.backends.base import (
    Backend,
    BackendInfo,
    TensorInfo,
    choose,
    load_failed,
    model_file,
)
from edgephoto.runtime.backends.reference_ops import OPS


def _import() -> Any:
    return require("onnx", "convert", "the reference backend")


class _Node:
    __slots__ = ("op", "inputs", "outputs", "attrs")

    def __init__(self, op: str, inputs: list[str], outputs: list[str], attrs: dict[str, Any]):
        self.op, self.inputs, self.outputs, self.attrs = op, inputs, outputs, attrs


class ReferenceBackend(Backend):
    def __init__(self, path: Path, *, device: str = "auto", fallback: bool = True) -> None:
        onnx = _import()
        self.info, self.path, self.requested_device = INFO, model_file(path), device
        self.device, self.accelerator = choose("reference", "device", device, {"cpu": "numpy"},
                                               fallback=fallback, default="cpu")
        self.threads = 1
        try:
            model = onnx.load(str(self.path))
        except Exception as exc:  # DecodeError and friends from protobuf
            raise load_failed(self.path, "onnx", exc) from exc
        graph = model.graph
        if not graph.node and not graph.output:
            raise InputFileError(self.path, "onnx cannot load it: empty or not an ONNX model")
        self.constants = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
        self.nodes = [self._node(onnx, n) for n in graph.node]
        self._inputs = [_tensor(onnx, v) for v in graph.input if v.name not in self.constants]
        self._outputs = [_tensor(onnx, v) for v in graph.output]

    def _node(self, onnx: Any, node: Any) -> _Node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            raise UnsupportedOpError(node.op_type, "reference",
                                     f"node '{node.name}'; known ops: {', '.join(sorted(OPS))}")
        attrs: dict[str, Any] = {"_op": node.op_type}
        for attr in node.attribute:
            value = onnx.helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, onnx.TensorProto):
                value = onnx.numpy_helper.to_array(value)
            attrs[attr.name] = value
        if node.op_type == "Cast":
            attrs["to"] = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(attrs["to"]))
        if node.op_type == "Constant" and "value" not in attrs:
            raise UnsupportedOpError("Constant", "reference", "only the 'value' attribute")
        return _Node(node.op_type, list(node.input), list(node.output), attrs)

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values: dict[str, Any] = {**self.constants, **feeds, "": None}
        for node in self.nodes:  # ONNX stores nodes in topological order
            args = [values[name] for name in node.inputs]
            try:
                results = OPS[node.op](args, node.attrs)
            except NotImplementedError as exc:
                raise UnsupportedOpError(node.op, "reference", str(exc)) from None
            values.update(zip(node.outputs, results, strict=False))
        return {t.name: np.asarray(values[t.name]) for t in self._outputs}


def _tensor(onnx: Any, value: Any) -> TensorInfo:
    tensor = value.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                  for d in tensor.shape.dim)
    return TensorInfo(value.name, shape,
                      np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name)


def probe() -> dict[str, Any]:
    return {"devices": {"cpu": "numpy"},
            "accelerators": [], "modelled": {"ops": sorted(OPS)}}


INFO = BACKENDS.add(
    "reference",
    BackendInfo(
        name="reference",
        engine_module="onnx",
        extra="convert",
        suffixes=(".onnx",),
        devices=("cpu",),
        options=("fallback",),
        note="pure numpy, exact, slow: for testing pipeline code without an engine",
        factory=ReferenceBackend,
        probe=probe,
    ),
)
