"""Manifest facts the tasks read (integer I/O quantization, extra) and the faster guided filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgephoto.errors import InvalidOptionError
from edgephoto.runtime.photo.filters import (
    _solve_sym3,
    box_mean,
    guided_coefficients,
    guided_filter,
)
from edgephoto.runtime.tasks.common import ModelFacts, run_model

RNG = np.random.default_rng(11)


def _cast_model(path: Path, in_type: int) -> Path:
    """(N, 4, 4, 3) integer in -> the same values as float32 out: shows exactly what was fed."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["q"], ["out"], to=TensorProto.FLOAT)], "cast",
        [helper.make_tensor_value_info("q", in_type, [1, 4, 4, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 4, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def _facts(dtype: str, quantization: dict[str, Any] | None, std: float) -> dict[str, Any]:
    norm = {"mean": [0.0], "std": [std], "color": "RGB"}
    return {"task": "segmentation",
            "inputs": [{"name": "q", "shape": [1, 4, 4, 3], "dtype": dtype, "layout": "NHWC",
                        "normalization": norm, "quantization": quantization}],
            "outputs": [{"name": "out", "shape": [1, 4, 4, 3], "dtype": "float32", "layout": "NHWC",
                         "quantization": None}],
            "extra": {"fit": "letterbox"}}


def test_int8_io_artifact_gets_its_feed_quantized(tmp_path: Path) -> None:
    """Manifest keeps the float model's input (0..1) and (scale, zero point); the engine takes int8."""
    from onnx import TensorProto

    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("onnxruntime", _cast_model(tmp_path / "i8.onnx", TensorProto.INT8))
    pixels = RNG.integers(0, 256, (1, 4, 4, 3)).astype(np.float32)
    facts = ModelFacts.load(_facts("float32", {"scale": 1 / 254, "zero_point": -127}, 255.0))
    (fed,) = run_model(backend, facts, pixels)
    expected = np.clip(np.rint(pixels / 255.0 * 254) - 127, -128, 127)
    np.testing.assert_array_equal(fed, expected)
    assert facts.extra == {"fit": "letterbox"}
    with pytest.raises(InvalidOptionError, match="no quantization"):
        run_model(backend, ModelFacts.load(_facts("float32", None, 255.0)), pixels)


def test_uint8_manifest_input_still_takes_raw_pixels(tmp_path: Path) -> None:
    """FastDepth's shape: the manifest itself declares uint8 raw pixels (its quantization
    describes what the codes mean to the network, not a mapping the runtime applies)."""
    from onnx import TensorProto

    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("onnxruntime", _cast_model(tmp_path / "u8.onnx", TensorProto.UINT8))
    pixels = RNG.integers(0, 256, (1, 4, 4, 3)).astype(np.float32)
    facts = ModelFacts.load(_facts("uint8", {"scale": 1 / 255, "zero_point": 0}, 1.0))
    (fed,) = run_model(backend, facts, pixels)
    np.testing.assert_array_equal(fed, pixels)


def test_box_mean_edges_and_tiny_images() -> None:
    for shape, r in [((13, 9), 2), ((5, 4), 3), ((3, 3, 2), 5), ((31, 40, 3), 1), ((7, 7), 0)]:
        x = RNG.uniform(size=shape)
        brute = np.empty_like(x)
        for i in range(shape[0]):
            for j in range(shape[1]):
                brute[i, j] = x[max(i - r, 0) : i + r + 1, max(j - r, 0) : j + r + 1].mean(axis=(0, 1))
        np.testing.assert_allclose(box_mean(x, r), brute, atol=1e-12)


def test_closed_form_3x3_solve_matches_numpy() -> None:
    m = RNG.normal(size=(50, 3, 3))
    sym = m @ m.transpose(0, 2, 1) + 1e-3 * np.eye(3)
    v = RNG.normal(size=(50, 3))
    packed = np.stack([sym[:, i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))], axis=-1)
    np.testing.assert_allclose(_solve_sym3(packed, v), np.linalg.solve(sym, v[..., None])[..., 0], rtol=1e-6,
                               atol=1e-8)


def test_colour_coefficients_reproduce_a_linear_colour_model() -> None:
    guide = RNG.uniform(size=(30, 25, 3))
    src = guide @ np.array([0.5, -0.2, 0.3]) + 0.1
    a, b = guided_coefficients(guide, src, 2, 1e-9)
    np.testing.assert_allclose((a * guide).sum(axis=2) + b, src, atol=1e-4)


def test_one_guided_filter_serves_denoise_in_float32_and_masks_in_float64() -> None:
    """denoise's call shape (grey guide, two chroma planes, float32 0..255) is the per-plane
    filter, and its float32 box means are the float64 ones rounded."""
    photo = RNG.uniform(0, 255, (37, 29)).astype(np.float32)
    box32, box64 = box_mean(photo, 4), box_mean(photo.astype(np.float64), 4)
    assert box32.dtype == np.float32 and box64.dtype == np.float64
    np.testing.assert_allclose(box32, box64, rtol=1e-6)
    chroma = RNG.uniform(0, 255, (37, 29, 2)).astype(np.float32)
    both = guided_filter(photo, chroma, 3, 40.0)
    planes = np.stack([guided_filter(photo, chroma[..., c], 3, 40.0) for c in range(2)], axis=-1)
    assert both.dtype == np.float32 and both.shape == chroma.shape
    np.testing.assert_allclose(both, planes, atol=1e-3)
    wide = guided_filter(photo.astype(np.float64), chroma[..., 0].astype(np.float64), 3, 40.0)
    np.testing.assert_allclose(planes[..., 0], wide, atol=2e-2)  # float32 vs float64 work on 0..255
    with pytest.raises(InvalidOptionError, match="same height and width"):
        guided_filter(photo, chroma[:-1], 3, 40.0)
    with pytest.raises(InvalidOptionError, match="colour guide"):
        guided_filter(np.stack([photo] * 3, axis=-1), chroma, 3, 40.0)


def test_dequantized_artifact_outputs_are_codes_in_float(tmp_path: Path) -> None:
    """A converter-dequantized graph: float32 tensors holding uint8 codes (manifest source_dtype)."""
    from onnx import TensorProto

    from edgephoto.runtime.backends.base import load_backend

    backend = load_backend("onnxruntime", _cast_model(tmp_path / "f.onnx", TensorProto.FLOAT))
    facts = _facts("float32", {"scale": 1 / 255, "zero_point": 0}, 1.0)
    facts["inputs"][0]["source_dtype"] = "uint8"
    facts["outputs"][0].update(source_dtype="uint8", quantization={"scale": 0.5, "zero_point": 3})
    pixels = RNG.uniform(-20, 280, (1, 4, 4, 3)).astype(np.float32)
    (out,) = run_model(backend, ModelFacts.load(facts), pixels)
    codes = np.clip(np.rint(pixels), 0, 255)  # the integer codes the int8 model would have seen
    np.testing.assert_allclose(out, (codes - 3) * 0.5)


def test_depth_tiles_only_when_the_manifest_or_caller_asks(tmp_path: Path) -> None:
    """Global pass by default (tiles cost FastDepth accuracy); manifest extra.detail turns them on."""
    from onnx import TensorProto

    from edgephoto.runtime.backends.base import load_backend
    from edgephoto.runtime.tasks.depth import estimate_depth

    backend = load_backend("onnxruntime", _cast_model(tmp_path / "d.onnx", TensorProto.FLOAT))
    facts = _facts("float32", None, 1.0)
    facts.update(task="depth", tile={"mode": "tile", "tile": 4, "overlap": 1, "receptive_field": 3})
    photo = RNG.integers(0, 256, (20, 16, 3), dtype=np.uint8)
    assert estimate_depth(backend, facts, photo).tiles == []
    facts["extra"] = {"detail": 3.0}
    assert len(estimate_depth(backend, facts, photo).tiles) > 1
    assert len(estimate_depth(backend, facts, photo, detail=1.0).tiles) == 0
