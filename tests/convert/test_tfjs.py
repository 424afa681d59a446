"""TF.js loaders: tiny layers and graph models written here (model.json + shards) must run
exactly like the model they were written from; real ESRGAN / selfie / meet reproduce their
published quality."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

from edgephoto.convert.graph import ConvertContext, convert_path, source_runner  # noqa: E402
from edgephoto.convert.sources.tfjs import custom_layers, load_layers_model  # noqa: E402
from edgephoto.errors import InputFileError, UnsupportedOpError  # noqa: E402
from edgephoto.zoo.spec import ModelSpec, TensorSpec, TilePolicy  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
from shared_dir import DATA  # noqa: E402


def tiny_spec(name: str, fmt: str, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> ModelSpec:
    return ModelSpec(name=name, task="upscale", source_format=fmt, files=(), inputs=tuple(inputs),
                     outputs=tuple(outputs), tile=TilePolicy("whole", 8), licence="MIT",
                     description="test model", upstream="test")


def write_tfjs(root: Path, topology: dict[str, Any], fmt: str, weights: list[dict[str, Any]],
               shards: int = 2) -> Path:
    """model.json + `shards` shard files. Entries: name, array, optional quantization dtype."""
    entries, blob = [], b""
    for w in weights:
        array = np.asarray(w["array"])
        entry: dict[str, Any] = {"name": w["name"], "shape": list(array.shape),
                                 "dtype": "int32" if array.dtype.kind == "i" else "float32"}
        quant = w.get("quant")
        if quant == "float16":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blob += array.astype("<f2").tobytes()
        elif quant == "uint8":
            lo, scale = float(array.min()), float(array.max() - array.min()) / 255.0
            entry["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale}
            blob += np.rint((array - lo) / scale).astype(np.uint8).tobytes()
        else:
            blob += array.astype(entry["dtype"].replace("float32", "<f4").replace("int32", "<i4")).tobytes()
        entries.append(entry)
    cut = np.linspace(0, len(blob), shards + 1).astype(int)
    paths = [f"group1-shard{i + 1}of{shards}.bin" for i in range(shards)]
    root.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(paths):
        (root / p).write_bytes(blob[cut[i] : cut[i + 1]])
    model = {"format": fmt, "modelTopology": topology,
             "weightsManifest": [{"paths": paths, "weights": entries}]}
    (root / "model.json").write_text(json.dumps(model))
    return root / "model.json"


def dequantized(w: dict[str, Any]) -> np.ndarray:
    """What a TF.js runtime sees after reading a (possibly quantized) weight."""
    a = np.asarray(w["array"], np.float32)
    if w.get("quant") == "float16":
        return a.astype(np.float16).astype(np.float32)
    if w.get("quant") == "uint8":
        lo, scale = np.float32(a.min()), np.float32((a.max() - a.min()) / 255.0)
        return np.rint((a - lo) / scale).astype(np.uint8).astype(np.float32) * scale + lo
    return a


# --- layers ---------------------------------------------------------------------------------


def tiny_keras() -> Any:
    """An ESRGAN-shaped toy: conv, relu, concat, add, MultiplyBeta, PixelShuffle2x."""
    custom = custom_layers()
    x = tf_keras.Input((None, None, 3), name="LR")
    a = tf_keras.layers.Conv2D(8, 3, padding="same", name="F_0")(x)
    b = tf_keras.layers.Activation("relu", name="F_0_Relu")(a)
    c = tf_keras.layers.Concatenate(axis=3, name="cat")([a, b])
    d = tf_keras.layers.Conv2D(8, 1, name="LFF")(c)
    e = custom["MultiplyBeta"](beta=0.2, name="multiply_beta")(d)
    f = tf_keras.layers.Add(name="LRL")([a, e])
    g = tf_keras.layers.Conv2D(12, 3, padding="same", name="PreShuffle")(f)
    h = custom["PixelShuffle2x"](scale=2, name="pixel_shuffle")(g)
    y = tf_keras.layers.Conv2D(3, 3, padding="same", name="SR")(h)
    model = tf_keras.Model(x, y, name="generator")
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.weights])
    return model


def layers_weights(model: Any, quant: dict[str, str] | None = None) -> list[dict[str, Any]]:
    quant = quant or {}
    ws = [{"name": w.name.split(":")[0], "array": w.numpy(), "quant": quant.get(w.name.split(":")[0])}
          for w in model.weights]
    return sorted(ws, key=lambda w: w["name"])  # TF.js lists weights by name, not layer order


ESRGAN_LIKE = tiny_spec("tiny-sr", "tfjs_layers", [TensorSpec("input", (1, 6, 6, 3))],
                        [TensorSpec("output", (1, 12, 12, 3))])


def test_layers_model_round_trips_exactly(tmp_path: Path) -> None:
    model = tiny_keras()
    topology = {"keras_version": "2.10.0", "model_config": json.loads(model.to_json())}
    path = write_tfjs(tmp_path / "m", topology, "layers-model", layers_weights(model), shards=3)
    x = np.random.default_rng(2).uniform(0, 255, (1, 6, 6, 3)).astype(np.float32)
    want = model(x).numpy()
    assert np.array_equal(load_layers_model(path)(x).numpy(), want)
    ctx = ConvertContext(spec=ESRGAN_LIKE, workdir=tmp_path / "work")
    assert np.array_equal(source_runner(path, "tfjs_layers", ctx)({"input": x})["output"], want)
    saved = convert_path(path.parent, "tfjs_layers", "savedmodel", ctx)
    assert np.array_equal(source_runner(saved, "savedmodel", ctx)({"input": x})["output"], want)
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    (_, inputs), outputs = signature.structured_input_signature, signature.structured_outputs
    assert list(inputs) == ["input"] and tuple(inputs["input"].shape) == (1, 6, 6, 3)
    assert list(outputs) == ["output"] and tuple(outputs["output"].shape) == (1, 12, 12, 3)


def test_layers_model_dequantizes_uint8_and_float16(tmp_path: Path) -> None:
    model = tiny_keras()
    weights = layers_weights(model, {"F_0/kernel": "uint8", "SR/kernel": "float16"})
    topology = {"model_config": json.loads(model.to_json())}
    path = write_tfjs(tmp_path, topology, "layers-model", weights)
    by_name = {w["name"]: dequantized(w) for w in weights}
    model.set_weights([by_name[w.name.split(":")[0]] for w in model.weights])
    x = np.random.default_rng(3).uniform(0, 255, (1, 6, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(load_layers_model(path)(x).numpy(), model(x).numpy(), rtol=0, atol=1e-3)


def test_truncated_shard_and_bad_json_name_the_file(tmp_path: Path) -> None:
    model = tiny_keras()
    topology = {"model_config": json.loads(model.to_json())}
    path = write_tfjs(tmp_path, topology, "layers-model", layers_weights(model))
    shard = tmp_path / "group1-shard2of2.bin"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(InputFileError, match="group1-shard2of2.bin") as info:
        load_layers_model(path)
    assert "truncated" in str(info.value)
    path.write_text('{"format": "layers-model", "modelTopology": ')
    with pytest.raises(InputFileError, match="model.json") as info:
        load_layers_model(path)
    assert "not JSON" in str(info.value)


# --- graph ----------------------------------------------------------------------------------


def node(name: str, op: str, inputs: list[str] = (), **attrs: Any) -> dict[str, Any]:  # type: ignore[assignment]
    """One GraphDef node in TF.js's JSON form (strings base64, ints as strings)."""
    def attr(value: Any) -> dict[str, Any]:
        if isinstance(value, str) and value.startswith("DT_"):
            return {"type": value}
        if isinstance(value, bytes):
            return {"s": base64.b64encode(value).decode()}
        if isinstance(value, bool):
            return {"b": value}
        if isinstance(value, float):
            return {"f": value}
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return {"list": {"s": [base64.b64encode(v).decode() for v in value]}}
        if isinstance(value, list):
            return {"list": {"i": [str(v) for v in value]}}
        if isinstance(value, dict):
            return value
        raise TypeError(value)

    return {"name": name, "op": op, "input": list(inputs), "attr": {k: attr(v) for k, v in attrs.items()}}


def const(name: str, array: np.ndarray) -> dict[str, Any]:
    dtype = "DT_INT32" if array.dtype.kind == "i" else "DT_FLOAT"
    shape = {"dim": [{"size": str(d)} for d in array.shape]}
    return node(name, "Const", dtype=dtype, value={"tensor": {"dtype": dtype, "tensorShape": shape}})


def tiny_graph(rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Placeholder -> _FusedConv2D(BiasAdd, Relu6) -> FusedDepthwiseConv2dNative(BiasAdd, Prelu)
    -> Reshape -> _FusedMatMul(BiasAdd, LeakyRelu) -> Sigmoid."""
    w = {
        "c/w": rng.normal(0, 0.5, (3, 3, 3, 4)), "c/b": rng.normal(0, 0.5, 4),
        "d/w": rng.normal(0, 0.5, (3, 3, 4, 1)), "d/b": rng.normal(0, 0.5, 4),
        "d/alpha": rng.uniform(0, 0.5, 4), "m/w": rng.normal(0, 0.1, (256, 5)),
        "m/b": rng.normal(0, 0.5, 5),
    }
    weights = [{"name": k, "array": v.astype(np.float32), "quant": "float16" if k == "m/w" else None}
               for k, v in w.items()]
    weights.append({"name": "shape", "array": np.array([1, 256], np.int32)})
    conv = dict(T="DT_FLOAT", strides=[1, 1, 1, 1], padding=b"SAME", data_format=b"NHWC",
                dilations=[1, 1, 1, 1], explicit_paddings={"list": {}})
    placeholder_shape = {"shape": {"dim": [{"size": "-1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}
    nodes = [
        node("x", "Placeholder", dtype="DT_FLOAT", shape=placeholder_shape),
        *[const(item["name"], np.asarray(item["array"])) for item in weights],
        node("conv", "_FusedConv2D", ["x", "c/w", "c/b"], num_args={"i": "1"},
             fused_ops=[b"BiasAdd", b"Relu6"], use_cudnn_on_gpu=True, epsilon=0.0, **conv),
        node("dw", "FusedDepthwiseConv2dNative", ["conv", "d/w", "d/b", "d/alpha"],
             num_args={"i": "2"}, fused_ops=[b"BiasAdd", b"Prelu"], **conv),
        node("flat", "Reshape", ["dw", "shape"], T="DT_FLOAT", Tshape="DT_INT32"),
        node("mm", "_FusedMatMul", ["flat", "m/w", "m/b"], T="DT_FLOAT", transpose_a=False,
             transpose_b=False, num_args={"i": "1"}, fused_ops=[b"BiasAdd", b"LeakyRelu"],
             leakyrelu_alpha=0.1),
        node("out", "Sigmoid", ["mm"], T="DT_FLOAT"),
    ]
    return nodes, weights


def graph_reference(x: np.ndarray, weights: list[dict[str, Any]]) -> np.ndarray:
    """The same network written with plain tf.nn calls."""
    w = {item["name"]: dequantized(item) for item in weights if item["name"] != "shape"}
    y = tf.nn.relu6(tf.nn.bias_add(tf.nn.conv2d(x, w["c/w"], 1, "SAME"), w["c/b"]))
    y = tf.nn.bias_add(tf.nn.depthwise_conv2d(y, w["d/w"], [1, 1, 1, 1], "SAME"), w["d/b"])
    y = tf.nn.relu(y) - w["d/alpha"] * tf.nn.relu(-y)
    y = tf.matmul(tf.reshape(y, [1, 256]), w["m/w"]) + w["m/b"]
    return tf.sigmoid(tf.nn.leaky_relu(y, 0.1)).numpy()


GRAPH_SPEC = tiny_spec("tiny-graph", "tfjs_graph", [TensorSpec("x", (1, 8, 8, 3))],
                       [TensorSpec("out", (1, 5))])


def test_graph_model_fused_ops_become_standard_ops(tmp_path: Path) -> None:
    nodes, weights = tiny_graph(np.random.default_rng(4))
    path = write_tfjs(tmp_path / "g", {"node": nodes, "versions": {"producer": 1395}},
                      "graph-model", weights)
    x = np.random.default_rng(5).uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    want = graph_reference(x, weights)
    ctx = ConvertContext(spec=GRAPH_SPEC, workdir=tmp_path / "work")
    got = source_runner(path, "tfjs_graph", ctx)({"x": x})["out"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)

    frozen = convert_path(path, "tfjs_graph", "frozen_pb", ctx)
    ops = {n.op for n in tf.compat.v1.GraphDef.FromString(frozen.read_bytes()).node}
    assert {"Conv2D", "DepthwiseConv2dNative", "MatMul", "BiasAdd", "Relu6", "LeakyRelu"} <= ops
    assert not ops & {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}
    assert np.array_equal(source_runner(frozen, "frozen_pb", ctx)({"x": x})["out"], got)
    saved = convert_path(path, "tfjs_graph", "savedmodel", ctx)
    assert np.array_equal(source_runner(saved, "savedmodel", ctx)({"x": x})["out"], got)


def test_graph_model_unknown_op_is_named(tmp_path: Path) -> None:
    nodes, weights = tiny_graph(np.random.default_rng(6))
    nodes[-1] = node("out", "SparseToDenseTFJS", ["mm"], T="DT_FLOAT")
    path = write_tfjs(tmp_path, {"node": nodes}, "graph-model", weights)
    ctx = ConvertContext(spec=GRAPH_SPEC, workdir=tmp_path / "work")
    with pytest.raises(UnsupportedOpError) as info:
        convert_path(path, "tfjs_graph", "savedmodel", ctx)
    assert (info.value.op, info.value.target) == ("SparseToDenseTFJS", "tfjs_graph")


# --- real models ----------------------------------------------------------------------------


def set5_psnr(run: Any, scale: int, value_range: float) -> float:
    """Mean Set5 PSNR-Y: crop to a multiple of scale, PIL bicubic down, upscale, shave scale."""
    from PIL import Image

    from edgephoto.metrics import psnr_y, sr_pair

    values = []
    for f in sorted((DATA / "sr" / "set5").glob("*.png")):
        hr, lr = sr_pair(np.asarray(Image.open(f).convert("RGB")), scale)
        sr = run(lr.astype(np.float32)[None] / value_range)[0] * value_range
        values.append(psnr_y(hr, np.clip(np.rint(sr), 0, 255), scale))
    return float(np.mean(values))


@pytest.mark.real
@pytest.mark.parametrize("name,published", [("esrgan-slim-x4", 28.60), ("esrgan-medium-x2", 33.63)])
@pytest.mark.shared("data/sr/set5")
def test_esrgan_reproduces_published_set5_psnr(zoo_weights: Any, name: str, published: float) -> None:
    spec, root = zoo_weights(name)
    net = load_layers_model(root / spec.files[0].path)
    value_range = spec.inputs[0].normalization.std[0]
    got = set5_psnr(lambda x: net(x, training=False).numpy(), spec.scale, value_range)
    assert abs(got - published) < 0.05, got


def portrait_ious(run: Any, spec: ModelSpec, person: Any, photos: range) -> list[float]:
    from PIL import Image

    from edgephoto.metrics import iou

    h, w = spec.inputs[0].hw
    scores = []
    for i in photos:
        img = Image.open(DATA / "portraits" / "images" / f"{i}.jpg").convert("RGB")
        gt = Image.open(DATA / "portraits" / "masks" / f"{i}.png").convert("L")
        gt = np.asarray(gt.resize(img.size, Image.Resampling.NEAREST)) > 127
        x = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR), np.float32)[None] / 255.0
        prob = person(run({spec.inputs[0].name: x})[spec.outputs[0].name][0])
        prob = Image.fromarray(prob.astype(np.float32), "F").resize(img.size, Image.Resampling.BILINEAR)
        scores.append(iou(np.asarray(prob) > 0.5, gt))
    return scores


PHOTOS = range(1, 13)  # the reference (MediaPipe) averages 0.917 on all 150


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_selfie_graph_model_segments_people(zoo_weights: Any, tmp_path: Path) -> None:
    spec, root = zoo_weights("selfie-tfjs")
    ctx = ConvertContext(spec=spec, workdir=tmp_path)
    run = source_runner(root / spec.files[0].path, "tfjs_graph", ctx)
    scores = portrait_ious(run, spec, lambda y: y[..., 0], PHOTOS)
    assert np.mean(scores) > 0.90 and min(scores) > 0.75, scores


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_meet_channel_one_is_person_logits(zoo_weights: Any, tmp_path: Path) -> None:
    spec, root = zoo_weights("meet")
    ctx = ConvertContext(spec=spec, workdir=tmp_path)
    run = source_runner(root / spec.files[0].path, "tfjs_graph", ctx)

    def softmax(channel: int) -> Any:
        def person(y: np.ndarray) -> np.ndarray:
            assert y.min() < -1 and y.max() > 2  # logits, not probabilities
            e = np.exp(y - y.max(-1, keepdims=True))
            return e[..., channel] / e.sum(-1)

        return person

    assert np.mean(portrait_ious(run, spec, softmax(1), PHOTOS)) > 0.88
    assert np.mean(portrait_ious(run, spec, softmax(0), range(1, 4))) < 0.2
