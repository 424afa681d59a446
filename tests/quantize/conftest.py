"""Tiny real models (tf_keras, built here) in every float format, for fast quantizer tests.

One Keras model per task -> SavedModel -> float .tflite (TFLiteConverter), .onnx (tf2onnx),
OpenVINO IR (ov.convert_model) and, on demand, .mlpackage (coremltools). Weights are set so the
outputs mean something: the upscaler is nearest-neighbour x2 plus a small learned-looking
residual, the segmenter thresholds a colour direction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgephoto.convert.graph import ConvertContext
from edgephoto.zoo.spec import ModelSpec, Normalization, TensorSpec, TilePolicy

TILE = 32


def tiny_spec(task: str) -> ModelSpec:
    rgb = Normalization(mean=(0.0,), std=(1.0,), color="RGB")
    if task == "upscale":
        return ModelSpec(
            "tiny-up", "upscale", "savedmodel", (),
            (TensorSpec("input", (1, TILE, TILE, 3), normalization=rgb),),
            (TensorSpec("output", (1, 2 * TILE, 2 * TILE, 3), normalization=rgb),),
            TilePolicy("tile", TILE, 4, 5), "MIT", "tiny x2 upscaler", "test", scale=2,
        )
    unit = Normalization(mean=(0.0,), std=(255.0,), color="RGB")
    return ModelSpec(
        "tiny-seg", "segmentation", "savedmodel", (),
        (TensorSpec("input", (1, TILE, TILE, 3), normalization=unit),),
        (TensorSpec("output", (1, TILE, TILE, 1)),),
        TilePolicy("whole", TILE), "MIT", "tiny segmenter", "test",
    )


def keras_model(task: str) -> Any:
    import tf_keras as keras

    rng = np.random.default_rng(1)
    inp = keras.Input((TILE, TILE, 3), batch_size=1, name="input")
    if task == "upscale":
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c1")(inp)
        y = keras.layers.Conv2D(12, 3, padding="same", name="c2")(x)
        import tensorflow as tf

        out = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2), name="output")(y)
        model = keras.Model(inp, out)
        w1 = rng.normal(0, 0.05, (3, 3, 3, 16)).astype(np.float32)
        for c in range(3):
            w1[1, 1, c, c] = 1.0  # channels 0-2 carry the pixels through the relu
        w2 = rng.normal(0, 0.01, (3, 3, 16, 12)).astype(np.float32)
        for sub in range(4):
            for c in range(3):
                w2[1, 1, c, sub * 3 + c] = 1.0  # depth_to_space order: (sub-pixel, channel)
        model.get_layer("c1").set_weights([w1, np.zeros(16, np.float32)])
        model.get_layer("c2").set_weights([w2, np.zeros(12, np.float32)])
        return model
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="output")(x)
    model = keras.Model(inp, out)
    w1 = rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (3, 3, 8, 1)).astype(np.float32)
    w2[1, 1, :, 0] += np.linspace(-2, 2, 8)
    model.get_layer("c1").set_weights([w1, rng.normal(0, 0.1, 8).astype(np.float32)])
    model.get_layer("output").set_weights([w2, np.zeros(1, np.float32)])
    return model


def _build(task: str, root: Path) -> dict[str, Path]:
    import openvino as ov
    import tensorflow as tf
    import tf2onnx

    model = keras_model(task)
    paths = {"savedmodel": root / "saved"}
    model.export(str(paths["savedmodel"])) if hasattr(model, "export") else tf.saved_model.save(model, str(paths["savedmodel"]))
    converter = tf.lite.TFLiteConverter.from_saved_model(str(paths["savedmodel"]))
    paths["tflite"] = root / "model.tflite"
    paths["tflite"].write_bytes(converter.convert())
    paths["onnx"] = root / "model.onnx"
    signature = [tf.TensorSpec((1, TILE, TILE, 3), tf.float32, name="input")]
    tf2onnx.convert.from_keras(model, input_signature=signature, opset=17, output_path=str(paths["onnx"]))
    paths["openvino"] = root / "model.xml"
    ov.save_model(ov.convert_model(str(paths["savedmodel"])), str(paths["openvino"]), compress_to_fp16=False)
    return paths


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[ModelSpec, dict[str, Path]]]:
    built: dict[str, tuple[ModelSpec, dict[str, Path]]] = {}

    def get(task: str) -> tuple[ModelSpec, dict[str, Path]]:
        if task not in built:
            built[task] = (tiny_spec(task), _build(task, tmp_path_factory.mktemp(f"tiny-{task}")))
        return built[task]

    return get


def context(spec: ModelSpec, paths: dict[str, Path], workdir: Path, **options: Any) -> ConvertContext:
    workdir.mkdir(parents=True, exist_ok=True)
    reach = lambda node: paths[node]  # noqa: E731
    return ConvertContext(spec, workdir, {"reach": reach, "metadata": {"edgephoto.model": spec.name}, **options})
