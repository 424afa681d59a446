"""Every target x precision on tiny models built here; the guard; bad calibration; bad names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgephoto.convert.targets import TARGETS
from edgephoto.errors import AccuracyDropError, InputFileError, InvalidOptionError
from edgephoto.quantize import quantize_artifact
from edgephoto.quantize.calibration import calibration_dataset
from shared_dir import PORTRAITS

from .conftest import context, tiny_spec

MEASURED = [(t, p) for t in ("onnx", "tflite", "openvino") for p in TARGETS.get(t).precisions if p != "fp32"]


@pytest.mark.parametrize(("target", "precision"), MEASURED)
@pytest.mark.parametrize("task", ["upscale", "segmentation"])
def test_quantize_every_precision(tiny, tmp_path, task, target, precision):
    spec, paths = tiny(task)
    source = paths[target]
    ctx = context(spec, paths, tmp_path / "work", max_drop=50.0)
    out, report = quantize_artifact(source, target, precision, ctx)
    assert out.exists() and out != source
    assert report["measured"] and report["samples"] > 0
    assert report["precision"] == precision and report["method"]
    assert report["data"]["holdout_photos"] and report["data"]["calibration_samples"] > 0
    if task == "upscale":
        assert report["psnr_vs_float"] > 25.0  # quantized output still tracks the float output
        assert report["drop"] < 2.0
    else:
        assert report["iou_vs_float"] > 0.9


def test_guard_names_the_metric(tiny, tmp_path):
    spec, paths = tiny("segmentation")
    ctx = context(spec, paths, tmp_path / "w", max_drop=-1.0)  # impossibly tight: even 0 fails
    with pytest.raises(AccuracyDropError) as info:
        quantize_artifact(paths["onnx"], "onnx", "int8", ctx)
    assert info.value.metric == "iou" and info.value.limit == -1.0
    assert "iou_vs_float" in info.value.measured


def test_accuracy_control_onnx_keeps_layers_float(tiny, tmp_path):
    spec, paths = tiny("upscale")
    all_int8 = {"float_edges": False}
    plain = quantize_artifact(paths["onnx"], "onnx", "int8",
                              context(spec, paths, tmp_path / "a", max_drop=50.0, **all_int8))[1]
    assert plain["kept_float"] == []
    tight = plain["drop"] * 0.75  # between fully float (0) and fully int8
    _, report = quantize_artifact(paths["onnx"], "onnx", "int8", context(
        spec, paths, tmp_path / "b", max_drop=tight, accuracy_control=True, **all_int8))
    assert report["kept_float"], report
    assert report["drop"] <= tight


def test_accuracy_control_refuses_a_mostly_float_model(tiny, tmp_path):
    spec, paths = tiny("upscale")
    ctx = context(spec, paths, tmp_path / "w", max_drop=-1.0, accuracy_control=True, float_edges=False)
    with pytest.raises(AccuracyDropError, match=r"still over with \d+ of \d+ node\(s\) kept float") as info:
        quantize_artifact(paths["onnx"], "onnx", "int8", ctx)
    kept = info.value.measured["kept_float"]
    assert 1 <= len(kept) <= len([n for n in __import__("onnx").load(str(paths["onnx"])).graph.node]) // 2
    assert not list((tmp_path / "w").glob("*.int8.onnx.tmp*"))


@pytest.mark.parametrize("task", ["upscale", "segmentation"])
@pytest.mark.parametrize("edges", [None, False])
def test_onnx_edge_layers_float_by_default(tiny, tmp_path, task, edges):
    import onnx

    spec, paths = tiny(task)
    options = {} if edges is None else {"float_edges": edges}
    out, report = quantize_artifact(paths["onnx"], "onnx", "int8",
                                    context(spec, paths, tmp_path, max_drop=50.0, **options))
    nodes = list(onnx.load(str(out)).graph.node)
    convs = [n for n in nodes if n.op_type == "Conv"]
    produced_by = {o: n for n in nodes for o in n.output}
    data_from = [getattr(produced_by.get(c.input[0]), "op_type", "input") for c in (convs[0], convs[-1])]
    weights_from = [produced_by[c.input[1]] for c in (convs[0], convs[-1])]
    assert all(w.op_type == "DequantizeLinear" for w in weights_from)  # int8 weights either way
    if edges is None:  # first and last conv (+ the head after it) compute in float, weights stored int8
        head = [n.name for n in nodes[nodes.index(convs[-1]) + 1:] if n.op_type in ("Sigmoid", "Add", "Clip")]
        assert report["float_edges"]
        assert report["kept_float"] == list(dict.fromkeys([convs[0].name, convs[-1].name, *head]))
        assert "DequantizeLinear" not in data_from
        assert all(w.name.endswith("_weights_dq") for w in weights_from)
    else:
        assert not report["float_edges"] and report["kept_float"] == []
        assert data_from == ["DequantizeLinear", "DequantizeLinear"]


def test_unknown_precision_suggests(tiny, tmp_path):
    spec, paths = tiny("upscale")
    with pytest.raises(InvalidOptionError, match="Did you mean 'int8'"):
        quantize_artifact(paths["onnx"], "onnx", "int9", context(spec, paths, tmp_path))
    with pytest.raises(InvalidOptionError, match="int8-weights"):
        quantize_artifact(paths["onnx"], "coreml", "int8-weight", context(spec, paths, tmp_path))


def test_calibration_tiles_are_native_crops_and_held_out():
    spec = tiny_spec("upscale")
    data = calibration_dataset(spec, subset_size=10)
    assert len(data.calibration) == 10
    assert all(f["input"].shape == (1, 32, 32, 3) for f in data.calibration)
    assert not set(data.holdout_photos) & set(data.calibration_photos)
    sample = data.holdout[0]
    assert sample.reference is not None and sample.reference.shape == (64, 64, 3)


@pytest.mark.shared("data/portraits")
def test_calibration_ground_truth_masks(tmp_path):
    data = calibration_dataset(tiny_spec("segmentation"), PORTRAITS, subset_size=8, holdout_size=4)
    assert len(data.holdout) == 4
    assert all(s.reference is not None and s.reference.shape == (32, 32) for s in data.holdout)


def _write(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def test_calibration_converts_odd_photo_kinds(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (60, 80, 3), np.uint8)
    _write(tmp_path / "grey.png", Image.fromarray(rgb[..., 0]))
    _write(tmp_path / "deep.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257))
    _write(tmp_path / "cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    _write(tmp_path / "palette.png", Image.fromarray(rgb).convert("P"))
    data = calibration_dataset(tiny_spec("segmentation"), tmp_path, subset_size=6)
    assert len(data.calibration) == 6 and len(data.holdout) == 1
    assert all(f["input"].dtype == np.float32 and f["input"].shape == (1, 32, 32, 3) for f in data.calibration)


def test_calibration_bad_inputs(tmp_path):
    spec = tiny_spec("segmentation")
    with pytest.raises(InputFileError, match="not a directory"):
        calibration_dataset(spec, tmp_path / "missing")
    with pytest.raises(InputFileError, match="no photos"):
        calibration_dataset(spec, tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "b.png").write_bytes(b"")
    _write(tmp_path / "c.png", Image.new("RGB", (40, 40)))
    with pytest.raises(InputFileError, match="1 readable photo") as info:
        calibration_dataset(spec, tmp_path)
    assert "a.jpg" in str(info.value)
    with pytest.raises(InvalidOptionError):
        calibration_dataset(spec, subset_size=0)


@pytest.mark.parametrize("precision", ["int8", "int8-io"])
def test_tflite_int8_is_full_integer(tiny, tmp_path, precision):
    """'int8': every op integer, float32 I/O (one QUANTIZE in, one DEQUANTIZE out); 'int8-io':
    integer I/O too."""
    from ai_edge_litert.interpreter import Interpreter

    spec, paths = tiny("upscale")
    out, _ = quantize_artifact(paths["tflite"], "tflite", precision, context(spec, paths, tmp_path, max_drop=50.0))
    interpreter = Interpreter(model_path=str(out))
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    for op in ops:
        if op["op_name"] in ("CONV_2D", "DEPTH_TO_SPACE"):
            assert details[op["inputs"][0]]["dtype"] == np.int8, op
    kinds = [op["op_name"] for op in ops]
    io_dtype = interpreter.get_input_details()[0]["dtype"]
    if precision == "int8":
        assert io_dtype == np.float32 and interpreter.get_output_details()[0]["dtype"] == np.float32
        assert kinds.count("QUANTIZE") == 1 and kinds.count("DEQUANTIZE") == 1
    else:
        assert io_dtype == np.int8 and interpreter.get_output_details()[0]["dtype"] == np.int8
        assert "QUANTIZE" not in kinds and "DEQUANTIZE" not in kinds
    # the runtime backend's TensorInfo is where the rest of edgephoto reads integer I/O facts
    from edgephoto.runtime.backends.base import load_backend

    engine = load_backend("litert", out, device="cpu")
    for info, detail in ((engine.inputs()[0], interpreter.get_input_details()[0]),
                         (engine.outputs()[0], interpreter.get_output_details()[0])):
        if precision == "int8":
            assert info.quantization is None
        else:
            scale, zero = detail["quantization"]
            assert scale > 0 and info.quantization == (pytest.approx(scale), zero)


def _coreml_package(tmp_path: Path, channels: int) -> Path:
    """A real conv net as an mlprogram: 3 -> channels -> channels -> 3 (3x3 convs)."""
    import coremltools as ct
    import tensorflow as tf
    import tf_keras as keras

    from .conftest import TILE

    inp = keras.Input((TILE, TILE, 3), batch_size=1)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
    model = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(x))
    function = tf.function(model).get_concrete_function(tf.TensorSpec((1, TILE, TILE, 3), tf.float32))
    source = tmp_path / f"model{channels}.mlpackage"
    ct.convert([function], source="tensorflow", convert_to="mlprogram",
               compute_precision=ct.precision.FLOAT32).save(str(source))  # as the zoo's fp32 artifacts
    return source


@pytest.mark.parametrize("precision", ["fp16", "int8-weights", "palettize"])
def test_coreml_weight_compression_writes_mlpackage(tiny, tmp_path, precision):
    """Core ML compresses on Linux (accuracy needs macOS): a loadable-spec .mlpackage, smaller."""
    ct = pytest.importorskip("coremltools")
    spec, paths = tiny("upscale")
    source = _coreml_package(tmp_path, 32)  # the 32x32x3x3 conv (9216 weights) gets compressed
    out, report = quantize_artifact(source, "coreml", precision, context(spec, paths, tmp_path / "w"))
    assert out.suffix == ".mlpackage" and out.is_dir() and not report["measured"]
    model = ct.models.MLModel(str(out), skip_model_load=True)
    assert model.user_defined_metadata["edgephoto.precision"] == precision
    assert not list(out.parent.glob(".*.tmp.mlpackage"))
    size = lambda p: sum(f.stat().st_size for f in p.rglob("*.bin"))  # noqa: E731
    assert size(out) < 0.6 * size(source)


def test_coreml_compression_refused_when_nothing_would_shrink(tiny, tmp_path):
    pytest.importorskip("coremltools")
    spec, paths = tiny("upscale")
    source = _coreml_package(tmp_path, 8)  # largest conv 8x8x3x3 = 576 weights: under the threshold
    with pytest.raises(InvalidOptionError, match="nothing would be compressed; use fp16"):
        quantize_artifact(source, "coreml", "int8-weights", context(spec, paths, tmp_path / "w"))
    assert not list((tmp_path / "w").glob("*.mlpackage"))


def test_upstream_int8_model_is_refused(tmp_path: Path) -> None:
    """FastDepth is int8 upstream: quantizing it again is refused, naming its integer tensors."""
    from edgephoto.convert.graph import ConvertContext
    from edgephoto.errors import InvalidOptionError
    from edgephoto.quantize import quantize_artifact
    from edgephoto.zoo import get_model

    ctx = ConvertContext(get_model("fastdepth"), tmp_path)
    with pytest.raises(InvalidOptionError, match="already quantized upstream .*image, depth"):
        quantize_artifact(tmp_path / "fastdepth.onnx", "onnx", "int8", ctx)


def test_tflite_fp16_refused_when_weights_are_already_fp16(tiny, tmp_path):
    """MediaPipe publishes some float models with float16 weights: fp16 again is refused."""
    import tensorflow as tf

    spec, paths = tiny("upscale")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(paths["savedmodel"]))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    half = tmp_path / "half.tflite"
    half.write_bytes(converter.convert())
    with pytest.raises(InvalidOptionError, match="already stores float16 weights"):
        quantize_artifact(half, "tflite", "fp16", context(spec, paths, tmp_path / "w"))
    out, _ = quantize_artifact(paths["tflite"], "tflite", "fp16", context(spec, paths, tmp_path / "w2", max_drop=50.0))
    assert out.stat().st_size < 0.7 * paths["tflite"].stat().st_size


def dims_bytes(dims: list[int]) -> int:
    return int(np.prod(dims)) * 4


def test_histogram_calibration_holds_only_the_photos_that_fit_in_memory(tiny, tmp_path, monkeypatch):
    # Percentile (segmentation) keeps every activation of every calibration photo: a model whose
    # activations outgrow the bound calibrates on fewer photos and says so, instead of exhausting RAM
    import onnx

    from edgephoto.quantize import onnx as onnx_quantize

    spec, paths = tiny("segmentation")
    model = onnx.shape_inference.infer_shapes(onnx.load(str(paths["onnx"])))
    per_photo = onnx_quantize.activation_bytes(model)
    assert per_photo > 0
    notes: list[str] = []
    assert onnx_quantize.histogram_photos(model, 10, notes, budget=per_photo * 3) == 3
    assert onnx_quantize.histogram_photos(model, 10, notes, budget=per_photo * 3) == 3
    assert len(notes) == 1 and "3 of 10 calibration photos" in notes[0]  # said once
    assert onnx_quantize.histogram_photos(model, 10, [], budget=per_photo * 100) == 10

    # a model with open H/W has no static shapes to count: one photo is run and its tensors counted
    assert onnx_quantize.photo_activation_bytes(model, paths["onnx"], []) == per_photo
    open_hw = onnx.load(str(paths["onnx"]))
    for graph_input in [*open_hw.graph.input, *open_hw.graph.output]:
        for axis in (1, 2) if len(graph_input.type.tensor_type.shape.dim) == 4 else ():
            dim = graph_input.type.tensor_type.shape.dim[axis]
            dim.ClearField("dim_value")
            dim.dim_param = "HW"[axis - 1]
    open_hw = onnx.shape_inference.infer_shapes(open_hw)
    open_path = tmp_path / "open_hw.onnx"
    onnx.save(open_hw, str(open_path))
    assert onnx_quantize.activation_bytes(open_hw) < per_photo // 4  # the static count misses them
    name = open_hw.graph.input[0].name
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    feed = {name: np.zeros(dims, np.float32)}
    assert onnx_quantize.photo_activation_bytes(open_hw, open_path, [feed]) >= per_photo - dims_bytes(dims)

    monkeypatch.setattr(onnx_quantize, "HISTOGRAM_MEMORY", per_photo)
    ctx = context(spec, paths, tmp_path / "work", max_drop=50.0)
    out, report = quantize_artifact(paths["onnx"], "onnx", "int8", ctx)
    assert out.exists()
    assert any("histogram calibration used 1 of" in n for n in report["notes"])
