"""MACs/FLOPs counted on tiny real ONNX graphs built here, against counts worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgephoto.bench.work import artifact_work, count_onnx, rate
from edgephoto.errors import InputFileError


def save(tmp_path: Path, nodes: list, inputs: list, outputs: list, weights: dict[str, np.ndarray],
         name: str = "m.onnx") -> Path:
    import onnx
    from onnx import helper, numpy_helper

    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def value(name: str, shape: list) -> object:
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_net(tmp_path: Path, name: str = "m.onnx", dynamic: bool = False) -> Path:
    """3x3 conv 8->16 (+bias) on 32x32, ReLU, depthwise 3x3 (16 groups), ConvTranspose 16->8 x2."""
    from onnx import helper

    f = np.float32
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=16),
        helper.make_node("ConvTranspose", ["c2", "w3"], ["y"], strides=[2, 2]),
    ]
    weights = {"w1": np.zeros((16, 8, 3, 3), f), "b1": np.zeros(16, f), "w2": np.zeros((16, 1, 3, 3), f),
               "w3": np.zeros((16, 8, 2, 2), f)}
    shape: list = [1, 8, "h", "w"] if dynamic else [1, 8, 32, 32]
    out: list = [1, 8, None, None] if dynamic else [1, 8, 64, 64]
    return save(tmp_path, nodes, [value("x", shape)], [value("y", out)], weights, name)


CONV = 16 * 32 * 32 * 8 * 9  # every output pixel of 16 channels gathers 8 channels x 3x3
DEPTHWISE = 16 * 32 * 32 * 1 * 9  # one input channel per group
TRANSPOSED = 16 * 32 * 32 * 8 * 2 * 2  # every input pixel scatters to 8 channels x 2x2
RELU = 16 * 32 * 32
BIAS = 16 * 32 * 32


def test_convolutions_counted_by_hand(tmp_path: Path) -> None:
    work = count_onnx(conv_net(tmp_path))
    assert CONV == 1_179_648
    assert work["per_op"]["Conv"] == {"nodes": 2, "macs": CONV + DEPTHWISE,
                                      "flops": 2 * (CONV + DEPTHWISE) + BIAS}
    assert work["per_op"]["ConvTranspose"] == {"nodes": 1, "macs": TRANSPOSED, "flops": 2 * TRANSPOSED}
    assert work["per_op"]["Relu"] == {"nodes": 1, "macs": 0, "flops": RELU}
    assert work["macs"] == CONV + DEPTHWISE + TRANSPOSED
    assert work["flops"] == 2 * work["macs"] + BIAS + RELU
    assert work["unshaped_nodes"] == []


def test_dynamic_dims_take_the_tile_size(tmp_path: Path) -> None:
    static = count_onnx(conv_net(tmp_path, "static.onnx"))
    dynamic = count_onnx(conv_net(tmp_path, "dynamic.onnx", dynamic=True), size=32)
    assert dynamic["flops"] == static["flops"] and dynamic["unshaped_nodes"] == []
    assert count_onnx(conv_net(tmp_path, "dynamic.onnx", dynamic=True), size=64)["macs"] == 4 * static["macs"]


def test_gemm_matmul_and_qdq_bookkeeping(tmp_path: Path) -> None:
    from onnx import helper

    f = np.float32
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "s"], ["w"]),  # QDQ weight: no arithmetic counted
        helper.make_node("Gemm", ["x", "w", "b"], ["g"]),
        helper.make_node("MatMul", ["g", "m"], ["y"]),
    ]
    path = save(tmp_path, nodes, [value("x", [2, 64])], [value("y", [2, 5])],
                {"wq": np.zeros((64, 10), np.int8), "s": np.array(0.1, f), "b": np.zeros(10, f),
                 "m": np.zeros((10, 5), f)})
    work = count_onnx(path)
    assert work["per_op"]["Gemm"] == {"nodes": 1, "macs": 2 * 64 * 10, "flops": 2 * 2 * 64 * 10 + 2 * 10}
    assert work["per_op"]["MatMul"] == {"nodes": 1, "macs": 2 * 10 * 5, "flops": 2 * 2 * 10 * 5}
    assert "DequantizeLinear" not in work["per_op"]
    assert work["integer_graph"] and not count_onnx(conv_net(tmp_path))["integer_graph"]
    # an "fp32" artifact whose graph is QDQ (quantized upstream) is rated against the int8 peak
    rated = rate({**work, "counted_on": str(path), "counted_on_self": True}, "fp32", 1.0,
                 {"fp32_gflops": 10.0, "int8_gops": 40.0})
    assert rated is not None and rated["unit"] == "GOP/s" and rated["peak"] == 40.0


def test_artifact_without_onnx_counts_on_the_onnx_beside_it(tmp_path: Path) -> None:
    conv_net(tmp_path / "m" / "onnx-fp32")
    tflite = tmp_path / "m" / "tflite-int8"
    tflite.mkdir()
    work = artifact_work(tflite, {"target": "tflite", "precision": "int8", "tile": {"tile": 32}})
    assert work is not None and work["counted_on"] == str(tmp_path / "m" / "onnx-fp32" / "m.onnx")
    assert not work["counted_on_self"] and work["macs"] == CONV + DEPTHWISE + TRANSPOSED
    assert artifact_work(tmp_path / "m" / "onnx-fp32", {"target": "onnx", "tile": {"tile": 32}})["counted_on_self"]
    assert artifact_work(tflite, {"target": "tflite", "precision": "int8"}) is not None
    alone = tmp_path / "n" / "tflite-fp32"
    alone.mkdir(parents=True)
    assert artifact_work(alone, {"target": "tflite"}) is None


def test_rate_against_the_peak_of_the_same_kind(tmp_path: Path) -> None:
    work = count_onnx(conv_net(tmp_path))
    work.update(counted_on="m.onnx", counted_on_self=True)
    peak = {"fp32_gflops": 100.0, "int8_gops": 400.0}
    fp32 = rate(work, "fp32", 2.0, peak)
    assert fp32 is not None and fp32["unit"] == "GFLOP/s" and fp32["peak_kind"] == "fp32"
    assert fp32["achieved"] == pytest.approx(work["flops"] / 2e-3 / 1e9)
    assert fp32["fraction_of_peak"] == pytest.approx(fp32["achieved"] / 100.0)
    int8 = rate(work, "int8", 2.0, peak)
    assert int8 is not None and int8["unit"] == "GOP/s" and int8["fraction_of_peak"] == pytest.approx(
        fp32["achieved"] / 400.0)
    assert rate(work, "fp16", 2.0, None)["fraction_of_peak"] is None  # type: ignore[index]
    assert rate(None, "fp32", 2.0, peak) is None


def test_unreadable_graph_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(InputFileError, match="cannot read the ONNX graph"):
        count_onnx(tmp_path / "bad.onnx")


def test_nodes_out_of_order_are_still_counted(tmp_path: Path) -> None:
    """A consumer listed before its producer (as the fp16 converter's Casts leave it)."""
    import onnx

    path = conv_net(tmp_path)
    model = onnx.load(path)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    onnx.save(model, tmp_path / "reversed.onnx")
    assert count_onnx(tmp_path / "reversed.onnx")["flops"] == count_onnx(path)["flops"]
