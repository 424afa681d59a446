"""The onnx and tflite targets and the onnx/torch/tflite sources, on tiny models built here.

Every artifact is run with the product's runtime backends (onnxruntime, LiteRT) and compared
with the model it came from. Converters run in child processes; a proxy pointing at a closed
port proves they never touch the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert import graph
from edgephoto.convert.graph import ConvertContext
from edgephoto.errors import InputFileError, UnsupportedOpError
from edgephoto.runtime.backends import load_backend
from edgephoto.zoo.spec import ModelSpec, TensorSpec, TilePolicy

METADATA = {"edgephoto.model": "tiny", "edgephoto.task": "segmentation", "edgephoto.version": "0.1.0"}
RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP(S) request from a converter (or its child process) fails at once."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")


def make_spec(fmt: str, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> ModelSpec:
    return ModelSpec(name="tiny", task="segmentation", source_format=fmt, files=(), inputs=inputs,
                     outputs=outputs, tile=TilePolicy("whole", 32), licence="MIT",
                     description="test model", upstream="built in the test")


def context(spec: ModelSpec, workdir: Path, **options: object) -> ConvertContext:
    workdir.mkdir(parents=True, exist_ok=True)
    return ConvertContext(spec, workdir, {"metadata": METADATA, **options})


def run_artifact(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    backend = "litert" if path.suffix == ".tflite" else "onnxruntime"
    with load_backend(backend, path) as model:
        assert {t.name for t in model.inputs()} == set(feeds)
        return model.run(feeds)


def assert_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray], atol: float = 1e-5) -> None:
    assert set(got) == set(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_allclose(got[name], want[name], atol=atol, rtol=0, err_msg=name)


def assert_metadata(path: Path) -> None:
    if path.suffix == ".tflite":
        from edgephoto.convert.targets.tflite import read_tflite_metadata

        assert read_tflite_metadata(path) == METADATA
    else:
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert props == METADATA


# --- SavedModel (tf_keras) -> tflite / onnx -------------------------------------------------

KERAS_SPEC = make_spec(
    "savedmodel",
    (TensorSpec("image", (1, 32, 32, 3)),),
    (TensorSpec("mask", (1, 32, 32, 1)), TensorSpec("aux", (1, 32, 32, 2))),
)


@pytest.fixture(scope="module")
def keras_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray], np.ndarray]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    keras.utils.set_random_seed(3)
    image = keras.Input((32, 32, 3), batch_size=1, name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(image)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Conv2DTranspose(8, 2, strides=2)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    mask = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    aux = keras.layers.Conv2D(2, 1, name="aux")(x)
    model = keras.Model(image, [mask, aux])
    path = tmp_path_factory.mktemp("keras") / "savedmodel"
    model.save(str(path), save_format="tf")
    feed = RNG.random((1, 32, 32, 3), dtype=np.float32)
    want = dict(zip(["mask", "aux"], [t.numpy() for t in model(feed)], strict=True))
    return path, want, feed


@pytest.mark.slow
@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_savedmodel_to_target_matches_keras(keras_savedmodel, target: str, tmp_path: Path) -> None:
    path, want, feed = keras_savedmodel
    ctx = context(KERAS_SPEC, tmp_path)
    artifact = graph.convert_path(path, "savedmodel", target, ctx)
    assert artifact.suffix == f".{target}" and artifact.parent == tmp_path
    assert_close(run_artifact(artifact, {"image": feed}), want)
    assert_metadata(artifact)


@pytest.mark.slow
def test_tflite_keeps_spec_names_and_order(keras_savedmodel, tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path, _, _ = keras_savedmodel
    artifact = graph.convert_path(path, "savedmodel", "tflite", context(KERAS_SPEC, tmp_path))
    interpreter = Interpreter(model_path=str(artifact))
    assert [d["name"] for d in interpreter.get_input_details()] == ["image"]
    assert [d["name"] for d in interpreter.get_output_details()] == ["mask", "aux"]
    signature = interpreter.get_signature_list()["serving_default"]
    assert signature["inputs"] == ["image"] and sorted(signature["outputs"]) == ["aux", "mask"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_unsupported_tf_op_names_op_and_target(target: str, tmp_path: Path) -> None:
    import tensorflow as tf

    class Igamma(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4, 4, 3], tf.float32, name="image")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"out": tf.math.igamma(x + 1.0, x + 2.0)}

    module = Igamma()
    saved = tmp_path / "igamma"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.serve.get_concrete_function()})
    spec = make_spec("savedmodel", (TensorSpec("image", (1, 4, 4, 3)),), (TensorSpec("out", (1, 4, 4, 3)),))
    with pytest.raises(UnsupportedOpError) as caught:
        graph.convert_path(saved, "savedmodel", target, context(spec, tmp_path / "work"))
    assert (caught.value.op, caught.value.target) == ("Igamma", target)


# --- torch -> onnx ---------------------------------------------------------------------------

TORCH_SPEC = make_spec(
    "torch",
    (TensorSpec("image", (1, 3, 16, 16), layout="NCHW"),),
    (TensorSpec("mask", (1, 2, 32, 32), layout="NCHW"),),
)


def tiny_torch_module():  # noqa: ANN201 (torch is imported lazily)
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(4, 2, 2, stride=2), torch.nn.Sigmoid(),
    ).eval()


@pytest.mark.slow
@pytest.mark.parametrize("form", ["live", "torch_save", "torchscript"])
def test_torch_to_onnx_matches_module(form: str, tmp_path: Path) -> None:
    import onnx
    import torch

    module = tiny_torch_module()
    feed = RNG.random((1, 3, 16, 16), dtype=np.float32)
    with torch.no_grad():
        want = module(torch.from_numpy(feed)).numpy()
    path = tmp_path / "model.pt"
    options: dict[str, object] = {}
    if form == "live":
        options["torch_module"] = module
    elif form == "torch_save":
        torch.save(module, path)
    else:
        torch.jit.save(torch.jit.trace(module, torch.from_numpy(feed)), str(path))
    ctx = context(TORCH_SPEC, tmp_path / "work", **options)
    assert_close(graph.source_runner(path, "torch", ctx)({"image": feed}), {"mask": want}, atol=0)
    artifact = graph.convert_path(path, "torch", "onnx", ctx)
    assert_close(run_artifact(artifact, {"image": feed}), {"mask": want})
    model = onnx.load(str(artifact))
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 17
    assert not list(artifact.parent.glob("*.data"))  # weights inline, no external data
    assert_metadata(artifact)


# --- onnx (built with onnx.helper) -> savedmodel / tflite ------------------------------------

ONNX_SPEC = make_spec(
    "onnx",
    (TensorSpec("pixels", (1, 3, 24, 32), layout="NCHW"),),
    (TensorSpec("prob", (1, 2, 24, 32), layout="NCHW"),),
)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    weights = [
        numpy_helper.from_array(rng.normal(0, 0.3, (6, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, (6,)).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.3, (2, 6, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.array([0.1, -0.2], np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Conv", ["pixels", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"]),
        helper.make_node("Sigmoid", ["c2"], ["prob"]),
    ]
    graph_proto = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 24, 32])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 2, 24, 32])], weights,
    )
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.slow
def test_onnx_to_tflite_keeps_spec_layout(tiny_onnx: Path, tmp_path: Path) -> None:
    feed = RNG.random((1, 3, 24, 32), dtype=np.float32)
    ctx = context(ONNX_SPEC, tmp_path)
    want = graph.source_runner(tiny_onnx, "onnx", ctx)({"pixels": feed})
    artifact = graph.convert_path(tiny_onnx, "onnx", "tflite", ctx)
    assert_close(run_artifact(artifact, {"pixels": feed}), want)
    assert_metadata(artifact)
    calibration = tmp_path / "onnx2tf" / "calibration_image_sample_data_20x128x128x3_float32.npy"
    sample = np.load(calibration)
    assert sample.shape == (20, 128, 128, 3) and 0.0 <= sample.min() and sample.max() <= 1.0
    assert sample.std() > 0.1  # real photo crops, not a constant


def test_onnx_finalizer_embeds_metadata_without_touching_input(tiny_onnx: Path, tmp_path: Path) -> None:
    before = tiny_onnx.read_bytes()
    artifact = graph.finalize(tiny_onnx, "onnx", context(ONNX_SPEC, tmp_path))
    assert artifact != tiny_onnx and tiny_onnx.read_bytes() == before
    assert_metadata(artifact)
    feed = RNG.random((1, 3, 24, 32), dtype=np.float32)
    want = graph.source_runner(tiny_onnx, "onnx", context(ONNX_SPEC, tmp_path))({"pixels": feed})
    assert_close(run_artifact(artifact, {"pixels": feed}), want, atol=0)


# --- damaged inputs --------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "not_flatbuffer", "empty"])
def test_damaged_tflite_is_an_input_file_error(damage: str, tmp_path: Path) -> None:
    from edgephoto.convert.tflite_ops import add_const_tensor, read_model, schema, write_model

    good = tmp_path / "good.tflite"
    fb = schema()
    model = fb.ModelT()
    model.version, model.buffers, model.operatorCodes = 3, [fb.BufferT()], []
    subgraph = fb.SubGraphT()
    subgraph.tensors, subgraph.operators = [], []
    model.subgraphs = [subgraph]
    add_const_tensor(model, subgraph, "weights", np.arange(4096, dtype=np.float32))
    subgraph.inputs, subgraph.outputs = [], [0]
    write_model(model, good)
    read_model(good)  # the intact file parses
    data = good.read_bytes()
    bad = tmp_path / f"{damage}.tflite"
    bad.write_bytes({"truncated": data[: len(data) // 3], "not_flatbuffer": b"PK\x03\x04" * 64,
                     "empty": b""}[damage])
    spec = make_spec("tflite", (TensorSpec("x", (1, 4)),), (TensorSpec("y", (1, 4)),))
    for call in (lambda: graph.source_runner(bad, "tflite", context(spec, tmp_path / "w")),
                 lambda: graph.convert_path(bad, "tflite", "onnx", context(spec, tmp_path / "w"))):
        with pytest.raises(InputFileError) as caught:
            call()
        assert caught.value.path == str(bad)


def test_corrupt_onnx_is_an_input_file_error(tiny_onnx: Path, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(tiny_onnx.read_bytes()[:200])
    for fmt, call in (("runner", lambda: graph.source_runner(bad, "onnx", context(ONNX_SPEC, tmp_path))),
                      ("finalize", lambda: graph.finalize(bad, "onnx", context(ONNX_SPEC, tmp_path))),
                      ("edge", lambda: graph.convert_path(bad, "onnx", "tflite", context(ONNX_SPEC, tmp_path)))):
        with pytest.raises(InputFileError) as caught:
            call()
        assert caught.value.path == str(bad), fmt


def test_bad_torch_file_is_an_input_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00not a torch file" * 10)
    with pytest.raises(InputFileError) as caught:
        graph.source_runner(bad, "torch", context(TORCH_SPEC, tmp_path))
    assert caught.value.path == str(bad)


def test_converter_messages_name_the_op() -> None:
    from edgephoto.convert.targets.onnx import unsupported_ops

    log = (
        "ERROR - Tensorflow op [conv2d_transpose: TFL_Convolution2DTransposeBias] is not supported\n"
        "ERROR - Unsupported ops: Counter({'TFL_Convolution2DTransposeBias': 1, 'Igamma': 2})\n"
        "error: 'tf.Lgamma' op is neither a custom op nor a flex op\n"
        "\x1b[31mERROR:\x1b[0m GridSample3D OP is not yet implemented.\n"
    )
    assert unsupported_ops(log) == ["Convolution2DTransposeBias", "Igamma", "Lgamma", "GridSample3D"]
    assert unsupported_ops("INFO - ONNX model is saved") == []
