"""Activation bytes per input px from an ONNX graph (convert/activation_memory.py), and the
runtime's memory budget planning with the larger of that and its built-in estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert.activation_memory import activation_bytes_per_px
from edgephoto.runtime.tasks.common import ModelFacts
from edgephoto.runtime.tasks.upscale import DEFAULT_BUDGET, budget_px

onnx = pytest.importorskip("onnx")


def upsample_first(path: Path, *, fixed: bool = False) -> Path:
    """Conv 1->8, nearest x2, conv 8->3 (the RRDBNet order: convs after the upsample)."""
    from onnx import TensorProto, helper, numpy_helper

    h, w = (16, 16) if fixed else ("H", "W")
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=(8, 1, 3, 3)).astype(np.float32), "w1"),
               numpy_helper.from_array(rng.normal(size=(3, 8, 3, 3)).astype(np.float32), "w2"),
               numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["a", "", "scales"], ["b"], mode="nearest"),
             helper.make_node("Conv", ["b", "w2"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_largest_step_plus_graph_ends_per_input_px(tmp_path: Path) -> None:
    # per input px (float32): conv1 1 + 8 values, resize 8 + 32, conv2 32 + 12 (the largest step);
    # the graph's input 1 and output 12: (44 + 13) * 4 bytes
    assert activation_bytes_per_px(upsample_first(tmp_path / "open.onnx")) == 57 * 4
    assert activation_bytes_per_px(upsample_first(tmp_path / "fixed.onnx", fixed=True)) is None


def facts(extra: dict[str, object]) -> ModelFacts:
    return ModelFacts.load({"task": "upscale", "scale": 4, "extra": extra,
                            "inputs": [{"name": "x", "shape": [1, 3, None, None], "layout": "NCHW"}],
                            "outputs": [{"name": "y", "shape": [1, 3, None, None], "layout": "NCHW"}]})


def test_budget_takes_the_graphs_figure_when_it_is_larger() -> None:
    built_in = 4 * (3 + 2 * 64 + 16 * 3)  # 716 bytes per px
    assert budget_px(facts({}), None) == DEFAULT_BUDGET // built_in
    assert budget_px(facts({"activation_bytes_per_px": 8396}), None) == DEFAULT_BUDGET // 8396  # RRDBNet
    assert budget_px(facts({"activation_bytes_per_px": 468}), None) == DEFAULT_BUDGET // built_in  # smaller: kept
    assert budget_px(facts({"activation_bytes_per_px": 8396}), None, batch=2) == DEFAULT_BUDGET // (2 * 8396)


@pytest.mark.real
def test_converted_real_esrgan_manifest_records_its_graphs_figure(zoo_artifacts) -> None:  # type: ignore[no-untyped-def]
    from edgephoto.manifest import read_manifest

    result = zoo_artifacts("realesr-animevideov3-x2", ("onnx",))["onnx"]
    assert result.ok, result.error
    extra = read_manifest(Path(result.path))["extra"]
    # SRVGGNetCompact x2: 64 channels at input size, the pixel shuffle at the end: near the built-in 0.7 kB
    assert 500 < extra["activation_bytes_per_px"] < 1000
