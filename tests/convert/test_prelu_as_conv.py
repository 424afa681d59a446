"""PRelu rewritten as depthwise 1x1 convs (prelu_as_conv): tiny ONNX graphs run in onnxruntime
before and after, and the cases the pass must leave alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgephoto.convert.onnx_passes.prelu_as_conv import prelu_as_conv  # noqa: E402

C = 4
# negative, zero, fractional and > 1 slopes: the rewrite must hold for all of them
SLOPES = np.array([-0.25, 0.0, 0.3, 1.18], np.float32)


def conv_prelu(slope: np.ndarray, shape: list[Any] | None = None) -> Any:
    """Conv(3x3, C -> C) then PRelu(slope) on an NCHW input with open H/W."""
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((C, C, 3, 3)) * 0.5).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["y", "slope"], ["out"])]
    graph = helper.make_graph(
        nodes, "conv_prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape if shape is not None else [1, C, None, None])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, C, None, None])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(slope, "slope")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: Any, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def photo_like(h: int = 9, w: int = 11) -> np.ndarray:
    return (np.random.default_rng(1).standard_normal((1, C, h, w)) * 3).astype(np.float32)


def ops(model: Any) -> Counter[str]:
    return Counter(n.op_type for n in model.graph.node)


@pytest.mark.parametrize("slope_shape", [(1, C, 1, 1), (C, 1, 1)])
def test_per_channel_prelu_becomes_fused_convs_with_the_same_values(slope_shape: tuple[int, ...]) -> None:
    model = conv_prelu(SLOPES.reshape(slope_shape))
    rewritten, count = prelu_as_conv(model)
    assert count == 1
    assert ops(rewritten) == Counter({"Conv": 3, "Relu": 1, "Add": 1})
    onnx.checker.check_model(rewritten)
    x = photo_like()
    before, after = run(model, x), run(rewritten, x)
    y = run(conv_prelu(np.ones(slope_shape, np.float32)), x)  # the conv's output itself (slope 1)
    assert np.array_equal(after[y >= 0], before[y >= 0])  # y + 0: exact
    np.testing.assert_allclose(after, before, rtol=2e-6, atol=1e-6)  # y < 0: within float32 ulps
    assert ops(model)["PRelu"] == 1  # the caller's model is not touched


def test_one_slope_becomes_leaky_relu_bit_exact() -> None:
    model = conv_prelu(np.array([0.2], np.float32))
    rewritten, count = prelu_as_conv(model)
    assert count == 1 and ops(rewritten) == Counter({"Conv": 1, "LeakyRelu": 1})
    assert not any(i.name == "slope" for i in rewritten.graph.initializer)
    x = photo_like()
    assert np.array_equal(run(rewritten, x), run(model, x))


def test_prelu_it_cannot_place_is_left_alone() -> None:
    unknown_rank = conv_prelu(SLOPES.reshape(1, C, 1, 1))
    del unknown_rank.graph.node[0]  # PRelu straight on an input of unknown rank
    unknown_rank.graph.node[0].input[0] = "x"
    unknown_rank.graph.input[0].type.tensor_type.ClearField("shape")
    per_column = conv_prelu(np.linspace(0.1, 0.5, 11, dtype=np.float32).reshape(1, 1, 1, 11), [1, C, 9, 11])
    for model in (unknown_rank, per_column):
        rewritten, count = prelu_as_conv(model)
        assert count == 0 and ops(rewritten)["PRelu"] == 1
    x = photo_like()
    np.testing.assert_array_equal(run(prelu_as_conv(per_column)[0], x), run(per_column, x))
