"""Tiny models built in the tests, one network in every format, plus a float64 numpy truth.

The network (NCHW, 1x3x8x8 -> 1x3x16x16), chosen to touch the ops photo models use:
conv3x3+bias -> relu = y; y*sigmoid(y) + y = z; concat(z, x); conv3x3+bias; clip(0, 1);
depth_to_space(2). The same weights go into ONNX (onnx.helper), TFLite (tf_keras, NHWC) and
OpenVINO IR (openvino.convert_model of the ONNX).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgephoto.manifest import file_entries, write_manifest

H = W = 8


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32),
        "b1": rng.normal(0, 0.1, (4,)).astype(np.float32),
        "w2": rng.normal(0, 0.3, (12, 7, 3, 3)).astype(np.float32),
        "b2": rng.normal(0.3, 0.1, (12,)).astype(np.float32),
    }


def sample(batch: int = 1, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 3, H, W), dtype=np.float32)


def _conv_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 'same' convolution as a sum of shifted matrix products (independent of the backend)."""
    n, _, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd))
    for i in range(3):
        for j in range(3):
            out += np.einsum("oc,nchw->nohw", w[:, :, i, j], padded[:, :, i:i + h, j:j + wd])
    return out + b.reshape(1, -1, 1, 1)


def truth(x: np.ndarray, wts: dict[str, np.ndarray]) -> np.ndarray:
    x64 = x.astype(np.float64)
    y = np.maximum(_conv_loops(x64, wts["w1"].astype(np.float64), wts["b1"]), 0)
    z = y / (1 + np.exp(-y)) + y
    c = np.clip(_conv_loops(np.concatenate([z, x64], 1), wts["w2"].astype(np.float64), wts["b2"]), 0, 1)
    n, ch, h, w = c.shape
    return c.reshape(n, 2, 2, ch // 4, h, w).transpose(0, 3, 4, 1, 5, 2).reshape(n, ch // 4, h * 2, w * 2)


def onnx_model(path: Path, wts: dict[str, np.ndarray], *, dynamic: bool = False) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dims: list[Any] = ["N", 3, "H", "W"] if dynamic else [1, 3, H, W]
    out_dims: list[Any] = ["N", 3, "H2", "W2"] if dynamic else [1, 3, 2 * H, 2 * W]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["y"]),
        helper.make_node("Sigmoid", ["y"], ["s"]),
        helper.make_node("Mul", ["y", "s"], ["m"]),
        helper.make_node("Add", ["m", "y"], ["z"]),
        helper.make_node("Concat", ["z", "image"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["clipped"]),
        helper.make_node("DepthToSpace", ["clipped"], ["out"], blocksize=2, mode="DCR"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in wts.items()]
    inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(1), "hi")]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_dims)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def keras_model(wts: dict[str, np.ndarray], *, batch: int | None = 1) -> Any:
    import tensorflow as tf
    import tf_keras as keras

    x = keras.Input((H, W, 3), batch_size=batch, name="image")
    conv1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    y = conv1(x)
    z = keras.layers.Add()([keras.layers.Multiply()([y, keras.layers.Activation("sigmoid")(y)]), y])
    cat = keras.layers.Concatenate()([z, x])
    conv2 = keras.layers.Conv2D(12, 3, padding="same")
    clipped = keras.layers.ReLU(max_value=1.0)(conv2(cat))
    out = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(clipped)
    model = keras.Model(x, out)
    conv1.set_weights([wts["w1"].transpose(2, 3, 1, 0), wts["b1"]])
    conv2.set_weights([wts["w2"].transpose(2, 3, 1, 0), wts["b2"]])
    return model


def tflite_model(path: Path, wts: dict[str, np.ndarray], *, batch: int | None = 1) -> Path:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model(wts, batch=batch))
    path.write_bytes(converter.convert())
    return path


def openvino_model(path: Path, onnx_path: Path) -> Path:
    import openvino as ov

    ov.save_model(ov.convert_model(str(onnx_path)), str(path), compress_to_fp16=False)
    return path


def coreml_model(path: Path, wts: dict[str, np.ndarray]) -> Path:
    import coremltools as ct

    mlmodel = ct.convert(keras_model(wts), convert_to="mlprogram",
                         compute_precision=ct.precision.FLOAT32)
    mlmodel.save(str(path))
    return path


def artifact(root: Path, model: Path, target: str, *, layout: str = "NCHW",
             dynamic: bool = False, scale: int = 2) -> Path:
    """Write a manifest for `model` (already inside `root`) the way the converter does."""
    n, h, w = (None, None, None) if dynamic else (1, H, W)
    nchw = layout == "NCHW"
    in_shape = [n, 3, h, w] if nchw else [n, h, w, 3]
    h2, w2 = (None, None) if dynamic else (2 * H, 2 * W)
    out_shape = [n, 3, h2, w2] if nchw else [n, h2, w2, 3]
    write_manifest(root, {
        "model": "tiny", "task": "upscale", "target": target, "precision": "fp32",
        "files": file_entries(root, [p for p in sorted(root.iterdir()) if p.name != "manifest.json"]),
        "inputs": [{"name": "image", "shape": in_shape, "dtype": "float32", "layout": layout,
                    "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]}}],
        "outputs": [{"name": "out", "shape": out_shape, "dtype": "float32", "layout": layout,
                     "normalization": None}],
        "scale": scale, "tile": None, "licence": "Apache-2.0",
    })
    return root


# artifact builders by model suffix: a new backend with a new suffix needs one line here
def build_for_suffix(suffix: str, root: Path, wts: dict[str, np.ndarray]) -> tuple[Path, str]:
    """(artifact dir, layout) holding the tiny net in the format `suffix`."""
    root.mkdir(parents=True, exist_ok=True)
    if suffix == ".onnx":
        onnx_model(root / "model.onnx", wts)
        return artifact(root, root / "model.onnx", "onnx"), "NCHW"
    if suffix == ".tflite":
        tflite_model(root / "model.tflite", wts)
        return artifact(root, root / "model.tflite", "tflite", layout="NHWC"), "NHWC"
    if suffix == ".xml":
        onnx_model(root.parent / f"{root.name}-src.onnx", wts)
        openvino_model(root / "model.xml", root.parent / f"{root.name}-src.onnx")
        return artifact(root, root / "model.xml", "openvino"), "NCHW"
    if suffix == ".mlpackage":
        if sys.platform != "darwin":
            raise RuntimeError("Core ML artifacts are built and run on macOS only")
        coreml_model(root / "model.mlpackage", wts)
        return artifact(root, root / "model.mlpackage", "coreml", layout="NHWC"), "NHWC"
    raise NotImplementedError(f"no tiny-model builder for '{suffix}': add one for the new backend")


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, str]]:
    """suffix -> (artifact dir, layout), built once per session. Import it into a test module."""
    cache: dict[str, tuple[Path, str]] = {}
    wts = weights()

    def get(suffix: str) -> tuple[Path, str]:
        if suffix not in cache:
            if suffix == ".tflite":
                pytest.importorskip("tensorflow", reason="building the tiny .tflite needs TF")
                pytest.importorskip("tf_keras", reason="building the tiny .tflite needs tf_keras")
            if suffix == ".mlpackage" and sys.platform != "darwin":
                pytest.skip("Core ML artifacts are built and run on macOS only")
            root = tmp_path_factory.mktemp(f"tiny-{suffix.strip('.')}")
            cache[suffix] = build_for_suffix(suffix, root, wts)
        return cache[suffix]

    return get
