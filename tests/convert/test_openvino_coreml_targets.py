"""The openvino and coreml target edges on tiny models built here, and on FSRCNN x2 (real).

OpenVINO artifacts are run on CPU with INFERENCE_PRECISION_HINT=f32 and compared with the
source framework; Core ML artifacts get the structural check (predict() needs macOS).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert.graph import EDGES, ConvertContext, find_path
from edgephoto.errors import ConversionError, ParityError, UnsupportedOpError
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy
from shared_dir import SET5

pytest.importorskip("openvino")
tf = pytest.importorskip("tensorflow")
from edgephoto.convert import coreml_check  # noqa: E402
from edgephoto.convert.targets import coreml as coreml_target  # noqa: E402,F401
from edgephoto.convert.targets import openvino as openvino_target  # noqa: E402,F401

RGB_HALF = Normalization(mean=(127.5,), std=(127.5,), color="RGB")
IMAGENET = Normalization(mean=(123.675, 116.28, 103.53), std=(58.0, 58.0, 58.0), color="RGB")
LUMA = Normalization(mean=(0.0,), std=(255.0,), color="Y")


def make_spec(name: str, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...],
              fmt: str = "savedmodel") -> ModelSpec:
    return ModelSpec(name=name, task="segmentation", source_format=fmt, files=(), inputs=inputs,
                     outputs=outputs, tile=TilePolicy("whole", 16), licence="MIT",
                     description=f"{name}: a tiny test net", upstream="built in the test")


RGB_SPEC = make_spec(
    "tiny-rgb",
    (TensorSpec("input", (1, 16, 16, 3), normalization=RGB_HALF),),
    (TensorSpec("output", (1, 8, 8, 2), meaning="two sigmoid maps"),),
)
# The SavedModel's signature says "lr"/"hr": the edges must rename to the spec's names.
Y_SPEC = make_spec(
    "tiny-y",
    (TensorSpec("IteratorGetNext", (1, 16, 16, 1), normalization=LUMA),),
    (TensorSpec("NHWC_output", (1, 32, 32, 1), normalization=LUMA, meaning="luma x2"),),
)
TORCH_SPEC = make_spec(
    "tiny-torch",
    (TensorSpec("image", (1, 3, 16, 16), layout="NCHW", normalization=IMAGENET),),
    (TensorSpec("features", (1, 4, 8, 8), layout="NCHW", meaning="pooled features"),),
    fmt="torch",
)


def ctx_for(spec: ModelSpec, workdir: Path, **options: object) -> ConvertContext:
    """The metadata the orchestrator really passes (edgephoto.* keys)."""
    from edgephoto import __version__
    from edgephoto.convert.api import metadata_for

    metadata = metadata_for(spec, "test", "fp32")
    assert metadata["edgephoto.version"] == __version__
    return ConvertContext(spec=spec, workdir=workdir, options={"metadata": metadata, **options})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny TF-native SavedModels (a tf_keras conv net; a 1-channel luma x2 net) and a TFLite."""
    import tf_keras as keras

    root = tmp_path_factory.mktemp("tiny")
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), batch_size=1, name="input")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPool2D()(x)
    x = keras.layers.Conv2D(2, 3, padding="same")(x)
    net = keras.Model(inp, keras.layers.Activation("sigmoid", name="output")(x))
    net.save(root / "rgb", save_format="tf")
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    (root / "rgb.tflite").write_bytes(converter.convert())

    module = tf.Module()
    module.w = tf.Variable(np.random.default_rng(1).normal(size=(3, 3, 1, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 1], tf.float32, name="lr")])
    def serve(lr: object) -> dict[str, object]:
        return {"hr": tf.nn.depth_to_space(tf.nn.relu(tf.nn.conv2d(lr, module.w, 1, "SAME")), 2)}

    module.serve = serve
    tf.saved_model.save(module, str(root / "y"), signatures={"serving_default": serve})
    return {"rgb": root / "rgb", "y": root / "y", "tflite": root / "rgb.tflite"}


def tf_run(path: Path, x: np.ndarray) -> np.ndarray:
    function = tf.saved_model.load(str(path)).signatures["serving_default"]
    (value,) = function(tf.constant(x)).values()
    return value.numpy()


def ov_run(xml: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from edgephoto.runtime.backends.base import load_backend

    with load_backend("openvino", xml, device="cpu", inference_precision="f32", threads=1) as backend:
        assert backend.precision_hint == "f32"
        return backend.run(feeds)


def test_edges_registered() -> None:
    assert ("tflite", "openvino") not in EDGES  # deliberately via ONNX (see targets/openvino.py)
    assert find_path("tflite", "openvino") == [("tflite", "onnx"), ("onnx", "openvino")]
    for edge in [("savedmodel", "openvino"), ("onnx", "openvino"),
                 ("savedmodel", "coreml"), ("torch", "coreml")]:
        assert edge in EDGES, edge


@pytest.mark.parametrize("name, spec", [("rgb", RGB_SPEC), ("y", Y_SPEC)])
def test_savedmodel_to_openvino_parity(models: dict[str, Path], tmp_path: Path, name: str,
                                       spec: ModelSpec) -> None:
    import openvino as ov

    ctx = ctx_for(spec, tmp_path)
    xml = EDGES[("savedmodel", "openvino")](models[name], ctx)
    assert xml.name == "model.xml" and (xml.parent / "model.bin").is_file()
    model = ov.Core().read_model(str(xml))
    assert [p.get_any_name() for p in model.inputs] == [t.name for t in spec.inputs]
    assert [p.get_any_name() for p in model.outputs] == [t.name for t in spec.outputs]
    assert model.inputs[0].get_partial_shape().to_shape() == list(spec.inputs[0].shape)
    assert str(model.get_parameters()[0].get_layout()) == "[N,H,W,C]"
    assert model.get_rt_info(["edgephoto", "licence"]).astype(str) == "MIT"
    assert model.get_rt_info(["edgephoto", "tensor_layout", spec.inputs[0].name]).astype(str) == "NHWC"
    assert model.get_rt_info(["runtime_options", "INFERENCE_PRECISION_HINT"]).astype(str) == "f32"
    assert any("INFERENCE_PRECISION_HINT=f32" in note for note in ctx.notes)
    assert str(models[name]) not in xml.read_text()  # no build-machine paths in the artifact

    x = np.random.default_rng(2).random(spec.inputs[0].shape, dtype=np.float32)
    got = ov_run(xml, {spec.inputs[0].name: x})[spec.outputs[0].name]
    want = tf_run(models[name], x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5


def test_tflite_to_openvino_parity(models: dict[str, Path], tmp_path: Path) -> None:
    ctx = ctx_for(RGB_SPEC, tmp_path)
    xml = EDGES[("onnx", "openvino")](EDGES[("tflite", "onnx")](models["tflite"], ctx), ctx)
    x = np.random.default_rng(3).random((1, 16, 16, 3), dtype=np.float32)
    got = ov_run(xml, {"input": x})["output"]
    assert np.abs(got - tf_run(models["rgb"], x)).max() < 1e-5


def tiny_onnx(path: Path, op: str = "Relu", domain: str = "", batch: int | str = "n") -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(4).normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["pixels", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"], ["mask"], domain=domain)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [batch, 4, 8, 8])], [w])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    onnx.save(helper.make_model(graph, opset_imports=opsets, ir_version=8), path)
    return path


ONNX_SPEC = make_spec(
    "tiny-onnx",
    (TensorSpec("pixels", (1, 3, 8, 8), layout="NCHW", normalization=RGB_HALF),),
    (TensorSpec("mask", (1, 4, 8, 8), layout="NCHW"),),
    fmt="onnx",
)


def test_onnx_to_openvino_parity_and_static_shape(tmp_path: Path) -> None:
    import onnxruntime as ort
    import openvino as ov

    path = tiny_onnx(tmp_path / "tiny.onnx")
    xml = EDGES[("onnx", "openvino")](path, ctx_for(ONNX_SPEC, tmp_path / "out"))
    model = ov.Core().read_model(str(xml))
    assert model.inputs[0].get_partial_shape().to_shape() == [1, 3, 8, 8]  # "n" fixed to 1
    assert str(model.get_parameters()[0].get_layout()) == "[N,C,H,W]"
    x = np.random.default_rng(5).random((1, 3, 8, 8), dtype=np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})[0]
    got = ov_run(xml, {"pixels": x})["mask"]
    assert np.abs(got - want).max() < 1e-5
    assert path.is_file()  # the input is untouched


def test_torch_to_openvino_through_onnx_parity(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = tiny_torch(torch)
    onnx_path = tmp_path / "t.onnx"
    torch.onnx.export(net, (torch.zeros(1, 3, 16, 16),), str(onnx_path), input_names=["x.1"],
                      output_names=["out"], opset_version=17, dynamo=False)
    xml = EDGES[("onnx", "openvino")](onnx_path, ctx_for(TORCH_SPEC, tmp_path))
    x = np.random.default_rng(6).random((1, 3, 16, 16), dtype=np.float32)
    got = ov_run(xml, {"image": x})  # renamed by position to the spec's names
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(got["features"] - want).max() < 1e-5


def tiny_torch(torch: object) -> object:
    nn = torch.nn  # type: ignore[attr-defined]
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 4, 3, padding=1)).eval()


def test_openvino_unsupported_op_is_named(tmp_path: Path) -> None:
    path = tiny_onnx(tmp_path / "bad.onnx", op="FancyOp", domain="com.example")
    with pytest.raises(UnsupportedOpError) as info:
        EDGES[("onnx", "openvino")](path, ctx_for(ONNX_SPEC, tmp_path / "out"))
    assert info.value.op == "com.example.FancyOp" and info.value.target == "openvino"
    assert not (tmp_path / "out" / "tiny-onnx.openvino").exists()


def test_openvino_broken_file_is_conversion_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07 this is not a protobuf")
    with pytest.raises(ConversionError) as info:
        EDGES[("onnx", "openvino")](path, ctx_for(ONNX_SPEC, tmp_path / "out"))
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def bad_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 1], tf.float32, name="lr")])
    def serve(lr: object) -> dict[str, object]:
        return {"hr": tf.math.bessel_i0e(lr)}

    module.serve = serve
    path = tmp_path_factory.mktemp("bad") / "sm"
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve})
    return path


@pytest.mark.parametrize("target", ["openvino", "coreml"])
def test_unsupported_tf_op_is_named(bad_savedmodel: Path, tmp_path: Path, target: str) -> None:
    pytest.importorskip("coremltools")
    spec = make_spec("bad", Y_SPEC.inputs, (TensorSpec("NHWC_output", (1, 16, 16, 1)),))
    with pytest.raises(UnsupportedOpError) as info:
        EDGES[("savedmodel", target)](bad_savedmodel, ctx_for(spec, tmp_path))
    assert (info.value.op, info.value.target) == ("BesselI0e", target)


def test_image_params_fold_normalisation() -> None:
    params = coreml_target.image_params
    bgr = Normalization(mean=(104.0, 117.0, 123.0), std=(2.0,), color="BGR")
    got = params(TensorSpec("x", (1, 8, 8, 3), normalization=bgr))
    assert got == {"scale": 0.5, "bias": [-52.0, -58.5, -61.5], "color_layout": "BGR"}
    assert params(TensorSpec("y", (1, 8, 8, 1), normalization=LUMA)) == {
        "scale": 1 / 255, "bias": -0.0, "color_layout": "GRAYSCALE"}
    per_channel = Normalization(mean=(0.0,), std=(58.4, 57.1, 57.4), color="RGB")
    assert params(TensorSpec("x", (1, 8, 8, 3), normalization=per_channel)) is None
    assert params(TensorSpec("x", (1, 8, 8, 3), dtype="uint8", normalization=RGB_HALF)) is None
    assert params(TensorSpec("x", (1, 8, 8, 4), normalization=RGB_HALF)) is None


def test_savedmodel_to_coreml_rgb_image(models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    package = EDGES[("savedmodel", "coreml")](models["rgb"], ctx_for(RGB_SPEC, tmp_path))
    assert package.suffix == ".mlpackage" and package.is_dir()
    facts = coreml_check.check_mlpackage(package, RGB_SPEC)
    (image,) = facts["inputs"]
    assert (image["kind"], image["color"], image["height"], image["width"]) == ("imageType", "RGB", 16, 16)
    assert image["scale"] == pytest.approx(1 / 127.5) and image["bias"] == pytest.approx([-1.0] * 3)
    assert facts["outputs"][0]["shape"] == [1, 8, 8, 2] and facts["outputs"][0]["dtype"] == "float32"
    assert facts["ops"]["conv"] == 2 and facts["ops"].get("max_pool") == 1
    assert "cast" not in facts["ops"]  # fp32 compute precision: no fp16 casts
    assert facts["license"] == "MIT" and facts["author"] == "edgephoto" and facts["version"]
    assert facts["user_defined_metadata"]["edgephoto.task"] == "segmentation"
    assert facts["user_defined_metadata"]["edgephoto.tensor_layouts"] == "input:NHWC,output:NHWC"
    assert facts["numerical_parity"].startswith("not run")

    # the check fails loudly when the artifact does not match the spec
    other = make_spec("tiny-rgb", (TensorSpec("input", (1, 16, 16, 3), normalization=IMAGENET),),
                      RGB_SPEC.outputs)
    with pytest.raises(ParityError, match="scale"):
        coreml_check.check_mlpackage(package, other)


def test_savedmodel_to_coreml_luma_renamed(models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    package = EDGES[("savedmodel", "coreml")](models["y"], ctx_for(Y_SPEC, tmp_path))
    facts = coreml_check.check_mlpackage(package, Y_SPEC)
    (image,) = facts["inputs"]
    assert image["name"] == "IteratorGetNext" and image["color"] == "GRAYSCALE"
    assert image["scale"] == pytest.approx(1 / 255) and image["bias"] == pytest.approx([0.0])
    assert facts["outputs"][0]["name"] == "NHWC_output"
    assert facts["outputs"][0]["description"] == "luma x2"
    assert facts["ops"]["depth_to_space"] == 1


def test_savedmodel_to_coreml_tensor_input_when_asked(models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    ctx = ctx_for(RGB_SPEC, tmp_path, image_input=False, minimum_deployment_target="iOS17")
    facts = coreml_check.check_mlpackage(EDGES[("savedmodel", "coreml")](models["rgb"], ctx), RGB_SPEC)
    assert facts["inputs"][0]["kind"] == "multiArrayType"
    assert facts["inputs"][0]["shape"] == [1, 16, 16, 3]


def test_torch_to_coreml(tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ctx = ctx_for(TORCH_SPEC, tmp_path, torch_module=tiny_torch(torch))
    facts = coreml_check.check_mlpackage(EDGES[("torch", "coreml")](tmp_path / "unused.pt", ctx),
                                         TORCH_SPEC)
    (image,) = facts["inputs"]
    assert image["kind"] == "imageType" and image["color"] == "RGB"
    assert image["scale"] == pytest.approx(1 / 58.0)
    assert image["bias"] == pytest.approx([-123.675 / 58, -116.28 / 58, -103.53 / 58])
    assert facts["outputs"][0]["name"] == "features"
    assert facts["ops"]["conv"] == 2 and facts["op_count"] > 4


@pytest.mark.real
@pytest.mark.shared("data/sr/set5")
def test_fsrcnn_x2_openvino_and_coreml(zoo_weights: object, tmp_path: Path) -> None:
    """The real FSRCNN x2 frozen graph -> SavedModel -> OpenVINO (parity on a Set5 crop) and
    Core ML (structural)."""
    from PIL import Image

    import edgephoto.convert.sources.tensorflow  # noqa: F401  registers frozen_pb -> savedmodel

    spec, root = zoo_weights("fsrcnn-x2")  # type: ignore[operator]
    ctx = ctx_for(spec, tmp_path)
    saved = EDGES[("frozen_pb", "savedmodel")](root / spec.files[0].path, ctx)

    photo = SET5 / "butterfly.png"
    y = np.asarray(Image.open(photo).convert("YCbCr"))[:128, :128, :1]
    x = spec.inputs[0].normalization.apply(y)[None]
    want = tf_run(saved, x)
    xml = EDGES[("savedmodel", "openvino")](saved, ctx)
    got = ov_run(xml, {"IteratorGetNext": x})["NHWC_output"]
    assert got.shape == (1, 256, 256, 1)
    assert np.abs(got - want).max() < 1e-5

    pytest.importorskip("coremltools")
    facts = coreml_check.check_mlpackage(EDGES[("savedmodel", "coreml")](saved, ctx), spec)
    image = facts["inputs"][0]
    assert image["color"] == "GRAYSCALE"  # open H/W: any photo size up to the Core ML limit
    assert image["height_range"] == image["width_range"] == [1, coreml_target.OPEN_DIM_LIMIT]
    assert facts["inputs"][0]["scale"] == pytest.approx(1 / 255)
    assert facts["ops"]["conv"] >= 7 and facts["ops"]["depth_to_space"] == 1


@pytest.mark.slow
def test_onnx2tf_savedmodel_to_coreml_and_openvino(tmp_path: Path) -> None:
    """The graph reaches coreml from onnx through onnx2tf's SavedModel: both edges must take it."""
    import onnxruntime as ort

    import edgephoto.convert.sources.onnx  # noqa: F401  registers onnx -> savedmodel (onnx2tf)

    pytest.importorskip("coremltools")
    path = tiny_onnx(tmp_path / "tiny.onnx", batch=1)
    ctx = ctx_for(ONNX_SPEC, tmp_path / "work")
    saved = EDGES[("onnx", "savedmodel")](path, ctx)
    facts = coreml_check.check_mlpackage(EDGES[("savedmodel", "coreml")](saved, ctx), ONNX_SPEC)
    assert facts["inputs"][0]["kind"] == "imageType" and facts["inputs"][0]["color"] == "RGB"
    assert facts["outputs"][0]["shape"] == [1, 4, 8, 8]  # the spec's NCHW layout
    assert facts["ops"]["conv"] == 1

    x = np.random.default_rng(7).random((1, 3, 8, 8), dtype=np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})[0]
    got = ov_run(EDGES[("savedmodel", "openvino")](saved, ctx), {"pixels": x})["mask"]
    assert np.abs(got - want).max() < 1e-5
