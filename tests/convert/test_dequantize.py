"""onnx_passes.dequantize on a tiny QDQ graph built here, and the Core ML check's dequantized
mapping (accepted exactly as declared, refused otherwise).

The float graph must compute what the QDQ graph computes when every Q/DQ op runs as written
(onnxruntime with graph optimisations off), bit for bit, with the integer I/O as float32.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert.onnx_passes import dequantize as dq
from edgephoto.errors import ConversionError
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

IN_SCALE, ACT_SCALE, OUT_SCALE = 1 / 255, 0.02, 0.03


def qdq_model(cast_reader: bool = False) -> onnx.ModelProto:
    """uint8 NHWC image -> int8 requantize -> Transpose (between Q and DQ) -> per-channel int8
    conv + int32 bias -> Relu -> int8 -> uint8 -> Transpose -> uint8 output `depth`."""
    rng = np.random.default_rng(0)
    w_scale = rng.uniform(0.002, 0.01, 4).astype(np.float32)
    inits = {
        "s_in": np.float32(IN_SCALE), "s_act": np.float32(ACT_SCALE), "s_out": np.float32(OUT_SCALE),
        "zp_u0": np.uint8(0), "zp_i": np.int8(-128),
        "w": rng.integers(-127, 128, size=(4, 3, 3, 3)).astype(np.int8), "w_scale": w_scale,
        "w_zp": np.zeros(4, np.int8),
        "b": rng.integers(-300, 300, size=4).astype(np.int32),
        "b_scale": (w_scale * np.float32(IN_SCALE)).astype(np.float32), "b_zp": np.zeros(4, np.int32),
    }
    nodes = [
        helper.make_node("DequantizeLinear", ["image", "s_in", "zp_u0"], ["x0"]),
        helper.make_node("QuantizeLinear", ["x0", "s_in", "zp_i"], ["x0q"]),
        helper.make_node("Transpose", ["x0q"], ["x0t"], perm=[0, 3, 1, 2]),
        helper.make_node("DequantizeLinear", ["x0t", "s_in", "zp_i"], ["x1"]),
        helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zp"], ["wf"], axis=0),
        helper.make_node("DequantizeLinear", ["b", "b_scale", "b_zp"], ["bf"], axis=0),
        helper.make_node("Conv", ["x1", "wf", "bf"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s_act", "zp_i"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "s_act", "zp_i"], ["rf"]),
        helper.make_node("QuantizeLinear", ["rf", "s_out", "zp_u0"], ["oq"]),
        helper.make_node("Transpose", ["oq"], ["depth"], perm=[0, 2, 3, 1]),
    ]
    outputs = [helper.make_tensor_value_info("depth", TensorProto.UINT8, [1, 8, 8, 4])]
    if cast_reader:  # an integer tensor read by something other than DequantizeLinear
        nodes.append(helper.make_node("Cast", ["rq"], ["rq_float"], to=TensorProto.FLOAT))
        outputs.append(helper.make_tensor_value_info("rq_float", TensorProto.FLOAT, [1, 4, 8, 8]))
    graph = helper.make_graph(
        nodes, "tiny-qdq",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 8, 8, 3])], outputs,
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run(model: onnx.ModelProto, image: np.ndarray, optimise: bool = True) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if not optimise:  # every QuantizeLinear/DequantizeLinear runs as written, in float
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(["depth"], {"image": image})[0]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size=(1, 8, 8, 3)).astype(np.uint8) for _ in range(4)]


def test_round_is_the_qdq_arithmetic_in_float(images: list[np.ndarray]) -> None:
    model = qdq_model()
    before = model.SerializeToString()
    float_model, mappings = dq.dequantize(model)
    assert model.SerializeToString() == before  # the caller's (uint8 I/O) model is untouched
    onnx.checker.check_model(float_model)
    ops = {n.op_type for n in float_model.graph.node}
    assert not ops & {"QuantizeLinear", "DequantizeLinear"} and "Round" in ops
    assert all(numpy_helper.to_array(i).dtype == np.float32 for i in float_model.graph.initializer)
    assert [i.type.tensor_type.elem_type for i in float_model.graph.input] == [TensorProto.FLOAT]
    assert [o.type.tensor_type.elem_type for o in float_model.graph.output] == [TensorProto.FLOAT]
    assert sorted((m.kind, m.name, m.dtype, m.zero_point) for m in mappings) == [
        ("input", "image", "uint8", 0), ("output", "depth", "uint8", 0)]
    assert {m.name: m.scale for m in mappings} == pytest.approx({"image": IN_SCALE, "depth": OUT_SCALE})
    spread = set()
    for image in images:
        want = run(model, image, optimise=False)
        got = run(float_model, image.astype(np.float32))  # the same raw 0-255 values
        assert got.dtype == np.float32 and np.array_equal(got, want.astype(np.float32))
        spread |= set(np.unique(want).tolist())
    assert len(spread) > 20  # a test net whose output is not saturated or constant


def test_float_activations_drop_rounding(images: list[np.ndarray]) -> None:
    float_model, _ = dq.dequantize(qdq_model(), activations="float")
    ops = [n.op_type for n in float_model.graph.node]
    assert ops.count("Round") == 1  # only the uint8 output's own rounding to steps
    diffs = [np.abs(run(float_model, im.astype(np.float32)) - run(qdq_model(), im, optimise=False))
             for im in images]
    assert max(d.max() for d in diffs) <= 2.0 and any(d.max() > 0 for d in diffs)
    with pytest.raises(ValueError, match="activations"):
        dq.dequantize(qdq_model(), activations="clip")


def test_integer_tensor_read_by_other_ops_is_refused() -> None:
    with pytest.raises(ConversionError, match="Cast"):
        dq.dequantize(qdq_model(cast_reader=True))


def test_is_quantized_and_record_round_trip(tmp_path: Path) -> None:
    assert dq.is_quantized(qdq_model())
    float_model, mappings = dq.dequantize(qdq_model())
    assert not dq.is_quantized(float_model)
    dq.save_record(tmp_path, mappings)
    assert dq.load_record(tmp_path) == mappings and dq.load_record(tmp_path / "nothing") == []
    assert dq.from_metadata({dq.METADATA_KEY: dq.to_metadata(mappings)}) == mappings


UINT8_SPEC = ModelSpec(
    name="tiny-int8", task="depth", source_format="onnx", files=(),
    inputs=(TensorSpec("image", (1, 8, 8, 3), dtype="uint8", normalization=Normalization(color="RGB")),),
    outputs=(TensorSpec("depth", (1, 8, 8, 4), dtype="uint8", meaning="q steps"),),
    tile=TilePolicy("whole", 8), licence="MIT", description="tiny int8 test net", upstream="test",
)


def test_check_accepts_only_declared_integer_tensors() -> None:
    pytest.importorskip("coremltools")
    from edgephoto.convert.coreml_check import _dequantized

    mappings = [dq.IoMapping("image", "input", "uint8", IN_SCALE, 0),
                dq.IoMapping("depth", "output", "uint8", OUT_SCALE, 0)]
    problems: list[str] = []
    assert _dequantized({dq.METADATA_KEY: dq.to_metadata(mappings)}, UINT8_SPEC, problems) == mappings
    assert problems == []
    for wrong in (dq.IoMapping("depth", "output", "int8", OUT_SCALE, 0),  # not the spec's dtype
                  dq.IoMapping("depth", "input", "uint8", OUT_SCALE, 0),  # not an input
                  dq.IoMapping("other", "output", "uint8", OUT_SCALE, 0)):  # no such tensor
        problems = []
        assert _dequantized({dq.METADATA_KEY: dq.to_metadata([wrong])}, UINT8_SPEC, problems) == []
        assert len(problems) == 1
    float_spec = dq.float_spec(UINT8_SPEC, mappings)
    problems = []
    assert _dequantized({dq.METADATA_KEY: dq.to_metadata(mappings)}, float_spec, problems) == []
    assert len(problems) == 2  # a float tensor cannot have been dequantized
    problems = []
    assert _dequantized({dq.METADATA_KEY: "not json"}, UINT8_SPEC, problems) == [] and problems


def test_coreml_edge_and_check_with_and_without_the_record(tmp_path: Path) -> None:
    """A float SavedModel standing for a dequantized int8 net: with its record the package is a
    float image in / float steps out and passes the uint8 spec's check; without it, it fails."""
    pytest.importorskip("coremltools")
    tf = pytest.importorskip("tensorflow")
    from edgephoto.convert.coreml_check import check_mlpackage
    from edgephoto.convert.graph import EDGES, ConvertContext, _load_edges
    from edgephoto.errors import ParityError

    _load_edges()
    module = tf.Module()
    module.w = tf.Variable(np.random.default_rng(2).normal(size=(3, 3, 3, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="image")])
    def serve(image: object) -> dict[str, object]:
        steps = tf.round(tf.nn.relu(tf.nn.conv2d(image * IN_SCALE, module.w, 1, "SAME")) / OUT_SCALE)
        return {"depth": tf.clip_by_value(steps, 0.0, 255.0)}

    module.serve = serve
    saved = tmp_path / "saved"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": serve})
    plain = tmp_path / "plain"
    shutil.copytree(saved, plain)
    mappings = [dq.IoMapping("image", "input", "uint8", IN_SCALE, 0),
                dq.IoMapping("depth", "output", "uint8", OUT_SCALE, 0)]
    dq.save_record(saved, mappings)

    notes: list[str] = []
    ctx = ConvertContext(UINT8_SPEC, tmp_path / "with", {"metadata": {"edgephoto.model": "tiny-int8"}},
                         notes=notes)
    facts = check_mlpackage(EDGES[("savedmodel", "coreml")](saved, ctx), UINT8_SPEC)
    (image,), (depth,) = facts["inputs"], facts["outputs"]
    assert (image["kind"], image["color"], image["scale"], image["bias"]) == ("imageType", "RGB", 1.0, [0.0])
    assert depth["dtype"] == "float32" and "q x 0.03" in depth["description"]
    assert [m["name"] for m in facts["dequantized"]] == ["image", "depth"]
    assert any("dequantized float equivalent" in note for note in notes)

    ctx = ConvertContext(UINT8_SPEC, tmp_path / "without", {})
    with pytest.raises(ParityError, match="dtype float32, spec uint8"):
        check_mlpackage(EDGES[("savedmodel", "coreml")](plain, ctx), UINT8_SPEC)
