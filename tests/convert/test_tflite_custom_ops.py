"""TFLite custom-op rewrites: Convolution2DTransposeBias -> builtin TRANSPOSE_CONV.

The fast test builds the custom op itself: a tiny tf_keras transposed conv is converted to
TFLite (builtin TRANSPOSE_CONV with bias), then turned back into MediaPipe's custom-op form,
which LiteRT refuses; the rewrite must restore exactly the original outputs. The real test runs
MediaPipe's landscape selfie model on real portraits.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from edgephoto.convert import graph
from edgephoto.convert.graph import ConvertContext
from edgephoto.convert.tflite_ops import (
    REWRITES,
    custom_op_names,
    read_model,
    rewrite_custom_ops,
    schema,
    write_model,
)
from edgephoto.errors import InputFileError, UnsupportedOpError
from edgephoto.metrics import iou
from edgephoto.zoo.spec import ModelSpec, TensorSpec, TilePolicy
from shared_dir import DATA

PORTRAITS = DATA / "portraits"


def builtin_transpose_conv(path: Path, strides: tuple[int, int], padding: str) -> Path:
    """A .tflite with one builtin TRANSPOSE_CONV (with bias), made by TFLiteConverter."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(5)
    x = keras.Input((6, 7, 4), batch_size=1, name="x")
    y = keras.layers.Conv2DTranspose(3, 3, strides=strides, padding=padding,
                                     bias_initializer="random_normal")(x)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, y))
    path.write_bytes(converter.convert())
    return path


def to_mediapipe_custom_op(src: Path, dst: Path, op_name: str = "Convolution2DTransposeBias") -> None:
    """Rewrite the TRANSPOSE_CONV in `src` the way MediaPipe's models store it."""
    fb = schema()
    model = read_model(src)
    subgraph = model.subgraphs[0]
    (op,) = [o for o in subgraph.operators
             if model.operatorCodes[o.opcodeIndex].builtinCode == fb.BuiltinOperator.TRANSPOSE_CONV]
    options = op.builtinOptions
    tflite_padding = {fb.Padding.SAME: 1, fb.Padding.VALID: 2}[options.padding]
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
    code.customCode, code.version = op_name, 1
    model.operatorCodes.append(code)
    _shape, weights, x, bias = op.inputs
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs = [x, weights, bias]
    op.builtinOptionsType, op.builtinOptions = 0, None
    op.customOptions = list(struct.pack("<3i", tflite_padding, options.strideW, options.strideH))
    write_model(model, dst)


def run_litert(path: Path, feed: np.ndarray, xnnpack: bool = True) -> np.ndarray:
    """LiteRT output. XNNPACK (on by default) implements MediaPipe's custom op itself, which
    makes the custom-op model an independent reference; without it LiteRT refuses that op."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(path), num_threads=1,
                              experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], feed)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_registry_holds_the_mediapipe_op() -> None:
    assert "Convolution2DTransposeBias" in REWRITES.names()


@pytest.mark.parametrize(("strides", "padding"), [((2, 2), "same"), ((1, 2), "valid"), ((3, 1), "same")])
def test_rewrite_restores_builtin_transpose_conv(strides: tuple[int, int], padding: str, tmp_path: Path) -> None:
    original = builtin_transpose_conv(tmp_path / "builtin.tflite", strides, padding)
    custom = tmp_path / "custom.tflite"
    to_mediapipe_custom_op(original, custom)
    with pytest.raises(RuntimeError, match="unresolved custom op"):  # builtin kernels only
        run_litert(custom, np.zeros((1, 6, 7, 4), np.float32), xnnpack=False)

    model = read_model(custom)
    assert custom_op_names(model) == ["Convolution2DTransposeBias"]
    assert rewrite_custom_ops(model, "litert") == ["Convolution2DTransposeBias"]
    assert custom_op_names(model) == []
    rewritten = write_model(model, tmp_path / "rewritten.tflite")

    feed = np.random.default_rng(0).normal(size=(1, 6, 7, 4)).astype(np.float32)
    want = run_litert(original, feed)
    for got in (run_litert(rewritten, feed), run_litert(rewritten, feed, xnnpack=False),
                run_litert(custom, feed)):  # the last: XNNPACK's own kernel for the custom op
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_unregistered_custom_op_is_named(tmp_path: Path) -> None:
    original = builtin_transpose_conv(tmp_path / "builtin.tflite", (2, 2), "same")
    custom = tmp_path / "custom.tflite"
    to_mediapipe_custom_op(original, custom, op_name="MyVendorUpsample")
    spec = ModelSpec(name="t", task="segmentation", source_format="tflite", files=(),
                     inputs=(TensorSpec("x", (1, 6, 7, 4)),), outputs=(TensorSpec("y", (1, 12, 14, 3)),),
                     tile=TilePolicy("whole", 7), licence="MIT", description="", upstream="")
    ctx = ConvertContext(spec, tmp_path)
    with pytest.raises(UnsupportedOpError) as caught:
        graph.convert_path(custom, "tflite", "onnx", ctx)
    assert (caught.value.op, caught.value.target) == ("MyVendorUpsample", "onnx")
    with pytest.raises(UnsupportedOpError) as caught:
        graph.source_runner(custom, "tflite", ctx)
    assert caught.value.op == "MyVendorUpsample"


def test_bad_custom_options_are_refused(tmp_path: Path) -> None:
    original = builtin_transpose_conv(tmp_path / "builtin.tflite", (2, 2), "same")
    custom = tmp_path / "custom.tflite"
    to_mediapipe_custom_op(original, custom)
    model = read_model(custom)
    for op in model.subgraphs[0].operators:
        if op.customOptions is not None:
            op.customOptions = list(struct.pack("<3i", 7, 2, 2))  # no such TfLitePadding
    with pytest.raises(UnsupportedOpError, match="padding=7"):
        rewrite_custom_ops(model, "onnx")


def portrait(n: int, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    from PIL import Image

    with Image.open(PORTRAITS / "images" / f"{n}.jpg") as image:
        rgb = image.convert("RGB")
    with Image.open(PORTRAITS / "masks" / f"{n}.png") as mask_image:
        mask = np.asarray(mask_image.convert("L").resize(rgb.size, Image.NEAREST)) > 127
    pixels = np.asarray(rgb.resize((hw[1], hw[0]), Image.BILINEAR), np.float32)
    return pixels, mask, rgb.size


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.shared("data/portraits")
def test_landscape_selfie_segments_people_after_rewrite(zoo_weights, tmp_path: Path) -> None:
    from PIL import Image

    spec, root = zoo_weights("selfie-landscape")
    source = root / spec.files[0].path
    before = source.read_bytes()
    ctx = ConvertContext(spec, tmp_path)
    run = graph.source_runner(source, "tflite", ctx)
    assert any("Convolution2DTransposeBias" in note for note in ctx.notes)
    (tin,), (tout,) = spec.inputs, spec.outputs
    person, background = [], []
    photos = [n for n in range(1, 31) if n not in (52, 69, 110)]
    for n in photos:
        pixels, mask, size = portrait(n, tin.hw)
        prob = run({tin.name: tin.normalization.apply(pixels[None])})[tout.name][0, :, :, 0]
        assert prob.min() >= 0.0 and prob.max() <= 1.0
        full = np.asarray(Image.fromarray(prob).resize(size, Image.BILINEAR)) > 0.5
        person.append(iou(full, mask))
        background.append(iou(~full, mask))
    # segment_back is the PERSON probability despite its name (MediaPipe's reference: 0.910
    # mean IoU on all 150 portraits with the same protocol).
    assert np.mean(person) > 0.88, np.mean(person)
    assert np.mean(background) < 0.1
    assert source.read_bytes() == before  # the rewrite never touches the input file

    # XNNPACK implements the custom op itself: the untouched model is an independent reference.
    pixels, _, _ = portrait(2, tin.hw)
    feed = tin.normalization.apply(pixels[None])
    reference = run_litert(source, feed)
    np.testing.assert_allclose(run({tin.name: feed})[tout.name], reference, rtol=0, atol=1e-5)

    onnx_path = graph.convert_path(source, "tflite", "onnx", ctx)
    from edgephoto.runtime.backends import load_backend

    with load_backend("onnxruntime", onnx_path) as model:
        via_onnx = model.run({tin.name: feed})[tout.name]
    np.testing.assert_allclose(via_onnx, reference, rtol=0, atol=1e-4)


@pytest.mark.real
def test_truncated_real_model_is_an_input_file_error(zoo_weights, tmp_path: Path) -> None:
    spec, root = zoo_weights("selfie-landscape")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes((root / spec.files[0].path).read_bytes()[:50_000])
    with pytest.raises(InputFileError) as caught:
        graph.source_runner(cut, "tflite", ConvertContext(spec, tmp_path))
    assert caught.value.path == str(cut)
