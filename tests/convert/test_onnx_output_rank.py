"""An ONNX graph whose output keeps extra leading unit axes gets them squeezed to the spec's rank."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from edgephoto.convert.targets.onnx import drop_leading_unit_axes


def _graph(out_shape: list[int | str]) -> onnx.ModelProto:
    shape = helper.make_tensor("shape", TensorProto.INT64, [5], [1, 1, 0, 0, 1])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], [shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_leading_unit_axes_are_squeezed_and_the_values_kept() -> None:
    model = _graph([1, 1, "h", "w", 1])
    assert drop_leading_unit_axes(model, [4]) == ["y"]
    onnx.checker.check_model(model)
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    (y,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert y.shape == (1, 3, 4, 1)
    np.testing.assert_array_equal(y[0, ..., 0], x[0, 0])
    assert [d.dim_value or d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, "h", "w", 1]


def test_outputs_of_the_spec_rank_or_unknown_extra_axes_are_left_alone() -> None:
    same = _graph([1, 1, "h", "w", 1])
    assert drop_leading_unit_axes(same, [5]) == []
    open_batch = _graph(["n", 1, "h", "w", 1])
    assert drop_leading_unit_axes(open_batch, [4]) == []
    assert [n.op_type for n in open_batch.graph.node] == ["Reshape"]
