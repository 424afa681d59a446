"""TF1 frozen graphs and Keras files into the SavedModel hub: fixed input shape, the spec's
names, outputs identical to the source; real FSRCNN reproduces its Set5 number."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

from edgephoto.convert.graph import ConvertContext, convert_path, source_runner  # noqa: E402
from edgephoto.errors import InputFileError  # noqa: E402
from edgephoto.zoo.spec import ModelSpec, TensorSpec, TilePolicy  # noqa: E402
from shared_dir import DATA  # noqa: E402


def spec_for(fmt: str, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> ModelSpec:
    return ModelSpec(name="tiny", task="upscale", source_format=fmt, files=(),
                     inputs=tuple(inputs), outputs=tuple(outputs), tile=TilePolicy("whole", 8),
                     licence="MIT", description="test model", upstream="test")


def write_frozen_sr(path: Path, rng: np.random.Generator) -> Path:
    """An FSRCNN-shaped TF1 graph: dynamic NHWC luma in, conv + PReLU-ish + depth_to_space out."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 1], name="IteratorGetNext")
        w1 = tf.constant(rng.normal(0, 0.5, (5, 5, 1, 8)).astype(np.float32))
        w2 = tf.constant(rng.normal(0, 0.5, (3, 3, 8, 4)).astype(np.float32))
        y = tf.nn.conv2d(x, w1, 1, "SAME")
        y = tf.maximum(y, 0.25 * y)
        y = tf.nn.depth_to_space(tf.nn.conv2d(y, w2, 1, "SAME"), 2)
        tf.identity(y, name="NHWC_output")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


FROZEN_SPEC = spec_for("frozen_pb", [TensorSpec("IteratorGetNext", (1, 16, 12, 1))],
                       [TensorSpec("NHWC_output", (1, 32, 24, 1))])


def signature_of(saved: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    return signature.structured_input_signature[1], signature.structured_outputs


def test_frozen_pb_to_savedmodel_fixes_shape_and_keeps_names(tmp_path: Path) -> None:
    pb = write_frozen_sr(tmp_path / "sr.pb", np.random.default_rng(0))
    original = pb.read_bytes()
    ctx = ConvertContext(spec=FROZEN_SPEC, workdir=tmp_path / "work")
    x = np.random.default_rng(1).uniform(0, 1, (1, 16, 12, 1)).astype(np.float32)
    want = source_runner(pb, "frozen_pb", ctx)({"IteratorGetNext": x})["NHWC_output"]
    assert want.shape == (1, 32, 24, 1)

    saved = convert_path(pb, "frozen_pb", "savedmodel", ctx)
    inputs, outputs = signature_of(saved)
    assert list(inputs) == ["IteratorGetNext"] and tuple(inputs["IteratorGetNext"].shape) == (1, 16, 12, 1)
    assert list(outputs) == ["NHWC_output"] and tuple(outputs["NHWC_output"].shape) == (1, 32, 24, 1)
    got = source_runner(saved, "savedmodel", ctx)({"IteratorGetNext": x})["NHWC_output"]
    assert np.array_equal(got, want)
    assert pb.read_bytes() == original and saved.parent == ctx.workdir


def test_corrupt_or_mismatched_frozen_pb(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff not a graph")
    ctx = ConvertContext(spec=FROZEN_SPEC, workdir=tmp_path / "work")
    with pytest.raises(InputFileError, match="bad.pb"):
        convert_path(bad, "frozen_pb", "savedmodel", ctx)
    with pytest.raises(InputFileError, match="missing.pb"):
        source_runner(tmp_path / "missing.pb", "frozen_pb", ctx)


def tiny_keras_model() -> Any:
    x = tf_keras.Input((None, None, 3), name="rgb")
    y = tf_keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = tf_keras.layers.UpSampling2D(2)(y)
    y = tf_keras.layers.Conv2D(3, 3, padding="same")(y)
    model = tf_keras.Model(x, y)
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.weights])
    return model


KERAS_SPEC = spec_for("keras", [TensorSpec("input", (1, 10, 10, 3))],
                      [TensorSpec("output", (1, 20, 20, 3))])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_file_to_savedmodel(tmp_path: Path, suffix: str) -> None:
    model = tiny_keras_model()
    path = tmp_path / f"user{suffix}"
    model.save(str(path))
    x = np.random.default_rng(3).uniform(0, 255, (1, 10, 10, 3)).astype(np.float32)
    want = model(x).numpy()
    ctx = ConvertContext(spec=KERAS_SPEC, workdir=tmp_path / "work")
    assert np.array_equal(source_runner(path, "keras", ctx)({"input": x})["output"], want)
    saved = convert_path(path, "keras", "savedmodel", ctx)
    inputs, outputs = signature_of(saved)
    assert tuple(inputs["input"].shape) == (1, 10, 10, 3) and list(outputs) == ["output"]
    assert np.array_equal(source_runner(saved, "savedmodel", ctx)({"input": x})["output"], want)


def test_not_a_keras_file(tmp_path: Path) -> None:
    bad = tmp_path / "user.h5"
    bad.write_bytes(b"nope")
    ctx = ConvertContext(spec=KERAS_SPEC, workdir=tmp_path / "work")
    with pytest.raises(InputFileError, match="user.h5"):
        source_runner(bad, "keras", ctx)


@pytest.mark.real
@pytest.mark.shared("data/sr/set5")
def test_fsrcnn_x2_savedmodel_reproduces_set5(zoo_weights: Any, tmp_path: Path) -> None:
    """Luma in [0,1] (PIL's full-range Y), PSNR on BT.601 studio luma of the network's Y.

    OpenCV dnn_superres with the same .pb: 34.85 dB (its YCrCb and rounding differ slightly).
    """
    from PIL import Image

    from edgephoto.metrics import psnr, rgb_to_luma, shave, sr_pair

    spec, root = zoo_weights("fsrcnn-x2")
    scale, values = spec.scale, []
    pb = root / spec.files[0].path
    for f in sorted((DATA / "sr" / "set5").glob("*.png")):
        hr, rgb_lr = sr_pair(np.asarray(Image.open(f).convert("RGB")), scale)
        h, w = hr.shape[:2]
        lr = Image.fromarray(rgb_lr).convert("YCbCr")
        photo_spec = spec_for("frozen_pb", [TensorSpec("IteratorGetNext", (1, h // scale, w // scale, 1))],
                              [TensorSpec("NHWC_output", (1, h, w, 1))])
        ctx = ConvertContext(spec=photo_spec, workdir=tmp_path / f.stem)
        saved = convert_path(pb, "frozen_pb", "savedmodel", ctx)
        y = np.asarray(lr, np.float32)[None, ..., :1] / 255.0
        out = source_runner(saved, "savedmodel", ctx)({"IteratorGetNext": y})["NHWC_output"]
        luma = np.clip(np.rint(out[0, ..., 0] * 255.0), 0, 255) * 219.0 / 255.0 + 16.0
        values.append(psnr(shave(rgb_to_luma(hr), scale), shave(luma, scale)))
    assert abs(float(np.mean(values)) - 34.85) < 0.1, values


def write_switch_merge(path: Path) -> Path:
    """A TF1 graph with v1 control flow on a scalar input, like RVM's downsample_ratio cond."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        ratio = tf.compat.v1.placeholder(tf.float32, None, name="ratio")
        switch = tf.raw_ops.Switch(data=x, pred=tf.equal(ratio, 1.0))
        merged = tf.raw_ops.Merge(inputs=[switch.output_false * ratio, switch.output_true + 1.0])
        tf.identity(merged.output, name="y")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_constant_inputs_fold_v1_control_flow(tmp_path: Path, ratio: float) -> None:
    from edgephoto.convert.sources.tensorflow import fix_placeholder_shapes, read_graph_def

    pb = write_switch_merge(tmp_path / "cond.pb")
    spec = spec_for("frozen_pb", [TensorSpec("x", (1, 4))], [TensorSpec("y", (1, 4))])
    spec = dataclasses.replace(spec, extra={"constant_inputs": {"ratio": ratio}})
    folded = fix_placeholder_shapes(read_graph_def(pb), spec.inputs, {"ratio": np.float32(ratio)})
    assert not {n.op for n in folded.node} & {"Switch", "Merge"}
    assert [n.name for n in folded.node if n.op == "Placeholder"] == ["x"]
    x = np.arange(4, dtype=np.float32)[None]
    want = x + 1.0 if ratio == 1.0 else x * ratio
    ctx = ConvertContext(spec=spec, workdir=tmp_path / "work")
    assert np.array_equal(source_runner(pb, "frozen_pb", ctx)({"x": x})["y"], want)
    saved = convert_path(pb, "frozen_pb", "savedmodel", ctx)
    assert np.array_equal(source_runner(saved, "savedmodel", ctx)({"x": x})["y"], want)
