"""Every registered backend runs the same tiny network to the same numbers; the reference
backend matches onnxruntime op by op; bad models and bad feeds fail with errors that name them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_backend_models import (
    artifact,
    onnx_model,
    sample,
    tflite_model,
    tiny_artifacts,  # noqa: F401 - session fixture
    truth,
    weights,
)

from edgephoto.errors import (
    HashMismatchError,
    InputFileError,
    InvalidOptionError,
    UnknownNameError,
    UnsupportedOpError,
)
from edgephoto.manifest import file_entries, read_manifest, write_manifest
from edgephoto.runtime.artifact import load_artifact
from edgephoto.runtime.backends import BACKENDS, load_backend

ENGINE_OPTIONS = {"threads": 1}


def _options(name: str) -> dict[str, Any]:
    return {k: v for k, v in ENGINE_OPTIONS.items() if k in BACKENDS.get(name).options}


def _skip_unless_runs_here(name: str) -> None:
    info = BACKENDS.get(name)
    if sys.platform not in info.platforms:
        pytest.skip(f"{name} runs on {', '.join(info.platforms)} only (this is {sys.platform})")


def _to_nchw(array: np.ndarray, layout: str) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if layout == "NHWC" else array


def test_registry_has_every_backend_with_capabilities_as_data() -> None:
    assert {"onnxruntime", "litert", "openvino", "coreml", "reference", "null"} <= set(BACKENDS.names())
    for name, info in BACKENDS:
        assert info.factory is not None and info.probe is not None, name
        assert "fallback" in info.options and set(info.devices) <= {"cpu", "gpu", "npu"}
    for name in ("onnxruntime", "litert", "openvino"):
        assert "threads" in BACKENDS.get(name).options
    with pytest.raises(UnknownNameError, match="onnxruntime"):
        BACKENDS.get("onnxruntim")


@pytest.mark.parametrize("name", BACKENDS.names())
def test_same_output_on_every_backend(name: str, tiny_artifacts) -> None:  # noqa: F811
    _skip_unless_runs_here(name)
    info = BACKENDS.get(name)
    root, layout = tiny_artifacts(info.suffixes[0] if info.suffixes else ".onnx")
    x = sample()
    expected = truth(x, weights())
    backend, manifest = load_artifact(root, backend=name, device="cpu", **_options(name))
    with backend:
        assert manifest["target"] and len(backend.inputs()) == len(backend.outputs()) == 1
        feed = x.transpose(0, 2, 3, 1) if layout == "NHWC" else x
        (out,) = backend.run({backend.inputs()[0].name: feed}).values()
        described = backend.describe()
    out = _to_nchw(out, layout)
    assert out.shape == expected.shape and out.dtype == np.float32
    assert described["backend"] == name and described["device"] == "cpu"
    if name == "null":  # zeros of the declared shape: plumbing, not maths
        assert not out.any()
    else:
        np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)


def test_threads_and_precision_are_recorded(tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(".onnx")
    with load_backend("onnxruntime", root / "model.onnx", threads=1) as ort:
        assert ort.describe()["threads"] == 1
        assert ort.describe()["providers"] == ["CPUExecutionProvider"]
    xml_root, _ = tiny_artifacts(".xml")
    with load_backend("openvino", xml_root / "model.xml", threads=2) as ov:
        assert ov.describe()["threads"] == 2 and ov.describe()["precision_hint"] == "f32"
    with pytest.raises(InvalidOptionError, match="threads"):
        load_backend("onnxruntime", root / "model.onnx", threads=0)
    with pytest.raises(InvalidOptionError, match="Did you mean 'threads'"):
        load_backend("onnxruntime", root / "model.onnx", thread=1)


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "reference"])
def test_dynamic_batch_runs_and_is_reported(name: str, tmp_path: Path) -> None:
    wts = weights()
    dynamic = onnx_model(tmp_path / "dynamic.onnx", wts, dynamic=True)
    static = onnx_model(tmp_path / "static.onnx", wts)
    x = np.random.default_rng(5).random((2, 3, 12, 10), dtype=np.float32)
    with load_backend(name, dynamic, device="cpu") as backend:
        assert backend.supports_batch()
        out = backend.run({"image": x})["out"]
    np.testing.assert_allclose(out, truth(x, wts), atol=1e-5, rtol=0)
    with load_backend(name, static, device="cpu") as backend:
        assert not backend.supports_batch()
        with pytest.raises(InvalidOptionError, match=r"input 'image': expected shape \[1, 3, 8, 8\]"):
            backend.run({"image": x})


def test_litert_dynamic_batch(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="building the tiny .tflite needs TF")
    wts = weights()
    path = tflite_model(tmp_path / "dynamic.tflite", wts, batch=None)
    x = sample(batch=3)
    with load_backend("litert", path, threads=1) as backend:
        assert backend.supports_batch()
        (name,) = [t.name for t in backend.inputs()]
        (out,) = backend.run({name: x.transpose(0, 2, 3, 1)}).values()
    np.testing.assert_allclose(out.transpose(0, 3, 1, 2), truth(x, wts), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"image": np.zeros((1, 3, 8, 9), np.float32)}, r"input 'image': expected shape \[1, 3, 8, 8\] float32, got \[1, 3, 8, 9\]"),
        ({"image": np.zeros((1, 3, 8, 8), np.float64)}, r"input 'image': expected shape \[1, 3, 8, 8\] float32, got .* float64"),
        ({"imagee": np.zeros((1, 3, 8, 8), np.float32)}, r"unknown input 'imagee'. Did you mean 'image'"),
        ({}, r"missing input 'image' \(expected shape \[1, 3, 8, 8\] float32\)"),
    ],
)
@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "reference", "null"])
def test_bad_feeds_name_the_tensor(name: str, feed: dict, message: str, tiny_artifacts) -> None:  # noqa: F811
    root, _ = tiny_artifacts(".onnx")
    backend, _ = load_artifact(root, backend=name, device="cpu")
    with backend, pytest.raises(InvalidOptionError, match=message):
        backend.run(feed)


@pytest.mark.parametrize("suffix", [".onnx", ".tflite", ".xml"])
def test_corrupt_model_file_is_named(suffix: str, tiny_artifacts, tmp_path: Path) -> None:  # noqa: F811
    source, _ = tiny_artifacts(suffix)
    root = tmp_path / "broken"
    shutil.copytree(source, root)
    model = root / f"model{suffix}"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])  # truncated download
    manifest = read_manifest(root)
    manifest["files"] = file_entries(root, [p for p in sorted(root.iterdir()) if p.name != "manifest.json"])
    write_manifest(root, manifest)  # hashes agree: the engine itself must refuse the file
    names = [n for n, info in BACKENDS if suffix in info.suffixes and sys.platform in info.platforms]
    for name in names:
        with pytest.raises(InputFileError, match=f"model{suffix}") as caught:
            load_artifact(root, backend=name, device="cpu")
        assert caught.value.path.endswith(f"model{suffix}")


def test_tampered_artifact_raises_hash_mismatch(tiny_artifacts, tmp_path: Path) -> None:  # noqa: F811
    source, _ = tiny_artifacts(".onnx")
    root = tmp_path / "tampered"
    shutil.copytree(source, root)
    data = bytearray((root / "model.onnx").read_bytes())
    data[-5] ^= 0x01  # one flipped bit in a weight
    (root / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(HashMismatchError, match="model.onnx"):
        load_artifact(root)
    (root / "model.onnx").unlink()
    with pytest.raises(InputFileError, match="missing"):
        load_artifact(root)


def test_artifact_picks_backend_from_target(tiny_artifacts) -> None:  # noqa: F811
    for suffix, expected in ((".onnx", "onnxruntime"), (".xml", "openvino")):
        root, _ = tiny_artifacts(suffix)
        backend, manifest = load_artifact(root, threads=1)
        with backend:
            assert backend.info.name == expected and backend.path.suffix == suffix
            assert manifest["inputs"][0]["name"] == "image"
    root, _ = tiny_artifacts(".onnx")
    with pytest.raises(InputFileError, match="no file for backend 'litert'"):
        load_artifact(root, backend="litert")


def test_null_backend_derives_open_axes_from_input(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"unused by the null backend")
    artifact(tmp_path, tmp_path / "model.bin", "onnx", layout="NHWC", dynamic=True, scale=4)
    backend, _ = load_artifact(tmp_path, backend="null")
    out = backend.run({"image": np.ones((2, 5, 7, 3), np.float32)})["out"]
    assert out.shape == (2, 20, 28, 3) and out.dtype == np.float32 and not out.any()
    assert backend.supports_batch()


# ---- reference backend against onnxruntime, op by op ----

def _single_op_model(path: Path, op: str, shapes: list[tuple[int, ...]], attrs: dict[str, Any],
                     consts: dict[str, np.ndarray] | None = None) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    consts = consts or {}
    names = [f"x{i}" for i in range(len(shapes))]
    graph = helper.make_graph(
        [helper.make_node(op, names + list(consts), ["y"], **attrs)], op,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in zip(names, shapes, strict=True)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) if v.size else helper.make_tensor(k, TensorProto.FLOAT, [0], [])
         for k, v in consts.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


F = np.float32
OP_CASES = {
    "conv-group-dilation": ("Conv", [(1, 4, 11, 9)], {"group": 2, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 2, 1, 2]},
                            {"w": np.random.default_rng(0).normal(size=(6, 2, 3, 3)).astype(F), "b": np.arange(6, dtype=F)}),
    "conv-same-upper-stride": ("Conv", [(1, 3, 10, 9)], {"strides": [2, 3], "auto_pad": "SAME_UPPER"},
                               {"w": np.random.default_rng(2).normal(size=(4, 3, 4, 3)).astype(F)}),
    "conv-depthwise": ("Conv", [(1, 4, 6, 6)], {"group": 4, "pads": [1, 1, 1, 1]},
                       {"w": np.random.default_rng(3).normal(size=(4, 1, 3, 3)).astype(F)}),
    "conv-pads": ("Conv", [(2, 3, 7, 7)], {"pads": [0, 1, 2, 1], "strides": [2, 2]}, {"w": np.random.default_rng(1).normal(size=(5, 3, 3, 2)).astype(F)}),
    "resize-linear-half-pixel": ("Resize", [(1, 2, 5, 7)], {"mode": "linear"}, {"roi": np.zeros(0, F), "scales": np.array([1, 1, 2.5, 0.6], F)}),
    "resize-linear-align-corners": ("Resize", [(1, 2, 5, 7)], {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
                                    {"roi": np.zeros(0, F), "scales": np.array([1, 1, 3, 2], F)}),
    "resize-nearest-asymmetric-floor": ("Resize", [(1, 2, 5, 7)], {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
                                        {"roi": np.zeros(0, F), "scales": np.array([1, 1, 2, 3], F)}),
    "resize-nearest-half-pixel": ("Resize", [(1, 1, 4, 6)], {"mode": "nearest"}, {"roi": np.zeros(0, F), "scales": np.array([1, 1, 1.5, 0.5], F)}),
    "depth-to-space-crd": ("DepthToSpace", [(1, 8, 3, 4)], {"blocksize": 2, "mode": "CRD"}, {}),
    "depth-to-space-dcr": ("DepthToSpace", [(2, 12, 3, 4)], {"blocksize": 2}, {}),
    "space-to-depth": ("SpaceToDepth", [(1, 2, 4, 6)], {"blocksize": 2}, {}),
    "maxpool": ("MaxPool", [(1, 3, 9, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, {}),
    "avgpool-exclude-pad": ("AveragePool", [(1, 3, 9, 8)], {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]}, {}),
    "pad-reflect": ("Pad", [(1, 2, 5, 5)], {"mode": "reflect"}, {"pads": np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64)}),
    "leaky-relu": ("LeakyRelu", [(2, 3, 4)], {"alpha": 0.2}, {}),
    "softmax": ("Softmax", [(2, 5, 3)], {"axis": 1}, {}),
    "sigmoid": ("Sigmoid", [(3, 50)], {}, {}),
    "clip": ("Clip", [(3, 7)], {}, {"lo": np.array(-0.5, F), "hi": np.array(0.25, F)}),
    "concat": ("Concat", [(1, 2, 3), (1, 4, 3)], {"axis": 1}, {}),
    "add-broadcast": ("Add", [(2, 3, 4, 5), (3, 1, 1)], {}, {}),
    "mul": ("Mul", [(2, 3), (2, 3)], {}, {}),
    "gemm": ("Gemm", [(3, 4)], {"transB": 1, "alpha": 0.5}, {"b": np.ones((6, 4), F), "c": np.arange(6, dtype=F)}),
    "batchnorm": ("BatchNormalization", [(2, 3, 4, 4)], {"epsilon": 1e-3},
                  {"s": np.array([1, 2, 0.5], F), "bias": np.array([0, 1, -1], F), "m": np.array([0.1, 0.2, 0.3], F), "v": np.array([1, 0.5, 2], F)}),
}


@pytest.mark.parametrize("case", list(OP_CASES))
def test_reference_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    op, shapes, attrs, consts = OP_CASES[case]
    path = _single_op_model(tmp_path / f"{case}.onnx", op, shapes, attrs, consts)
    rng = np.random.default_rng(7)
    feeds = {f"x{i}": rng.normal(size=s).astype(F) for i, s in enumerate(shapes)}
    with load_backend("onnxruntime", path, device="cpu", threads=1) as ort:
        expected = ort.run(feeds)["y"]
    with load_backend("reference", path, device="cpu") as ref:
        got = ref.run(feeds)["y"]
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_reference_refuses_unknown_ops_by_name(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    path = _single_op_model(tmp_path / "lrn.onnx", "LRN", [(1, 3, 4, 4)], {"size": 3})
    with pytest.raises(UnsupportedOpError, match="'LRN'.*'reference'"):
        load_backend("reference", path)
