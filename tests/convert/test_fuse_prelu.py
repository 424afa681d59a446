"""PReLU fusion: tiny ONNX and TF graphs with the unfused pattern (and near misses), and the real
FSRCNN artifacts (TFLite PRELU; ONNX PRelu, rewritten further by prelu_as_conv)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgephoto.convert.onnx_passes.fuse_prelu import fuse_prelu  # noqa: E402
from edgephoto.convert.prelu_pattern import fits, is_power_of_two  # noqa: E402

ALPHA = np.array([-0.3, 0.11, 0.7], np.float32).reshape(1, 3, 1, 1)


def tiny_model(half: float = 0.5, alpha_first: bool = True, relu_first: bool = True,
               relu_input: str = "x", extra_output: str | None = None) -> Any:
    """Relu(x) + alpha * (x - Abs(x)) * half on an NCHW [1, 3, 4, 5] input (FSRCNN's TF form)."""
    mul1 = ["alpha", "sub"] if alpha_first else ["sub", "alpha"]
    nodes = [
        helper.make_node("Relu", [relu_input], ["relu"]),
        helper.make_node("Abs", ["x"], ["abs"]),
        helper.make_node("Sub", ["x", "abs"], ["sub"]),
        helper.make_node("Mul", mul1, ["scaled"]),
        helper.make_node("Mul", ["scaled", "half"], ["negative"]),
        helper.make_node("Add", ["relu", "negative"] if relu_first else ["negative", "relu"], ["y"]),
    ]
    inits = [numpy_helper.from_array(ALPHA, "alpha"), numpy_helper.from_array(np.float32(half), "half")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])]
    if relu_input != "x":
        inputs.append(helper.make_tensor_value_info(relu_input, TensorProto.FLOAT, [1, 3, 4, 5]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 5])]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, TensorProto.FLOAT, [1, 3, 4, 5]))
    graph = helper.make_graph(nodes, "prelu", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def feeds(*names: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: (rng.standard_normal((1, 3, 4, 5)) * 10).astype(np.float32) for n in names}


def ops(model: Any) -> Counter[str]:
    return Counter(n.op_type for n in model.graph.node)


@pytest.mark.parametrize("alpha_first", [True, False])
@pytest.mark.parametrize("relu_first", [True, False])
def test_pattern_fuses_to_one_prelu_with_identical_outputs(alpha_first: bool, relu_first: bool) -> None:
    model = tiny_model(alpha_first=alpha_first, relu_first=relu_first)
    fused, count = fuse_prelu(model)
    onnx.checker.check_model(fused)
    assert count == 1
    assert ops(fused) == Counter({"PRelu": 1})
    assert [i.name for i in fused.graph.initializer] == ["y__prelu_slope"]  # alpha, half dropped
    np.testing.assert_array_equal(numpy_helper.to_array(fused.graph.initializer[0]), ALPHA)
    x = feeds("x")
    assert (x["x"] < 0).any() and (x["x"] > 0).any()
    (before,), (after,) = run(model, x), run(fused, x)
    assert np.array_equal(before, after)  # bit for bit, not just close
    assert ops(model)["Abs"] == 1  # the caller's model is untouched


@pytest.mark.parametrize("top", ["Add", "Sub"])
def test_keras_form_fuses(top: str) -> None:
    """What tf2onnx emits from the rewritten SavedModel: Relu(x) + (-alpha) * Relu(Neg(x)) (and
    the Sub spelling Relu(x) - alpha * Relu(Neg(x)))."""
    factor = -ALPHA if top == "Add" else ALPHA
    nodes = [helper.make_node("Relu", ["x"], ["relu"]), helper.make_node("Neg", ["x"], ["neg"]),
             helper.make_node("Relu", ["neg"], ["relu_neg"]),
             helper.make_node("Mul", ["factor", "relu_neg"], ["negative"]),
             helper.make_node(top, ["relu", "negative"], ["y"])]
    graph = helper.make_graph(nodes, "keras_prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 5])],
                              [numpy_helper.from_array(factor, "factor")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    fused, count = fuse_prelu(model)
    assert count == 1 and ops(fused) == Counter({"PRelu": 1})
    np.testing.assert_array_equal(numpy_helper.to_array(fused.graph.initializer[0]), ALPHA)
    x = feeds("x")
    assert np.array_equal(run(model, x)[0], run(fused, x)[0])


@pytest.mark.parametrize("half", [0.3, 0.49999997])
def test_near_miss_constant_is_left_alone(half: float) -> None:
    """alpha * (x - |x|) * 0.3 rounds twice: no PRelu gives the same floats, so no fusion."""
    model = tiny_model(half=half)
    fused, count = fuse_prelu(model)
    assert count == 0
    assert ops(fused) == ops(model)


def test_relu_of_another_tensor_is_left_alone() -> None:
    model = tiny_model(relu_input="other")
    fused, count = fuse_prelu(model)
    assert count == 0 and ops(fused) == ops(model)


def test_intermediate_read_elsewhere_is_left_alone() -> None:
    model = tiny_model(extra_output="sub")
    fused, count = fuse_prelu(model)
    assert count == 0 and ops(fused) == ops(model)


def test_power_of_two_and_slope_shape_rules() -> None:
    assert is_power_of_two(np.array([0.5, -2.0, 0.0, 1.0]))
    assert not is_power_of_two(np.array([0.5, 0.3]))
    assert fits(np.zeros((1, 3, 1, 1)), [1, 3, 4, 5])
    assert fits(np.zeros(5), [1, 3, 4, 5])  # broadcast on the last axis, as the graph did
    assert not fits(np.zeros(3), [1, 3, 4, 5])
    assert not fits(np.zeros((1, 3, 1, 1)), None) and fits(np.zeros(()), None)


def test_tf_graph_rewrite_is_exact_and_tflite_fuses_it() -> None:
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    from edgephoto.convert.sources.tensorflow import graph_def_function
    from edgephoto.convert.tf_passes import fuse_prelu_graph_def
    from edgephoto.zoo.spec import TensorSpec

    alpha = np.array([-0.3, 0.11, 0.7], np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 4, 5, 3], name="x")
        negative = tf.multiply(tf.multiply(tf.constant(alpha, name="alpha"), x - tf.abs(x)), 0.5)
        tf.identity(tf.nn.relu(x) + negative, name="y")
    spec = TensorSpec("x", (1, 4, 5, 3))
    fused, count = fuse_prelu_graph_def(graph.as_graph_def(), [spec], ["y"])
    assert count == 1
    assert "Abs" not in {n.op for n in fused.node}
    data = (np.random.default_rng(1).standard_normal((1, 4, 5, 3)) * 10).astype(np.float32)
    before = graph_def_function(graph.as_graph_def(), [spec], ["y"])(data)[0].numpy()
    fn = graph_def_function(fused, [spec], ["y"])
    assert np.array_equal(before, fn(data)[0].numpy())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.pruned], fn.pruned)
    interpreter = Interpreter(model_content=converter.convert())
    names = Counter(op["op_name"] for op in interpreter._get_ops_details())
    assert names["PRELU"] == 1 and "ABS" not in names and "MUL" not in names


@pytest.mark.real
def test_fsrcnn_artifacts_have_fused_prelu(zoo_artifacts) -> None:  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter

    results = zoo_artifacts("fsrcnn-x2", ("onnx", "tflite"))
    assert all(r.ok for r in results.values()), {t: r.error for t, r in results.items()}
    model = onnx.load(next(Path(results["onnx"].path).glob("*.onnx")))
    # fused into 7 PRelu, which prelu_as_conv then spells as 2 depthwise convs each for ORT
    assert "Abs" not in ops(model) and "PRelu" not in ops(model) and ops(model)["Conv"] == 8 + 2 * 7
    interpreter = Interpreter(model_path=str(next(Path(results["tflite"].path).glob("*.tflite"))))
    names = Counter(op["op_name"] for op in interpreter._get_ops_details())
    assert names["PRELU"] == 7 and "ABS" not in names
