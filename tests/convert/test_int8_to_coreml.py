"""The full-int8 FastDepth TFLite to Core ML (real weights): the SavedModel handed to coremltools
is the dequantized float equivalent and must agree with LiteRT within the integer tolerance; the
package takes a float RGB image of raw 0-255 pixels and returns float depth in the same
quantization steps, while the ONNX artifact keeps its uint8 I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("coremltools")
pytest.importorskip("onnx2tf")


@pytest.mark.real
def test_fastdepth_int8_to_coreml(zoo_artifacts: Callable[..., dict[str, Any]]) -> None:
    import onnx

    from edgephoto.convert.onnx_passes.dequantize import METADATA_KEY

    results = zoo_artifacts("fastdepth", ("onnx", "coreml"))
    coreml, onnx_result = results["coreml"], results["onnx"]
    assert coreml.ok, coreml.error
    assert onnx_result.ok, onnx_result.error

    fed = coreml.parity["converter_input"]
    assert fed["format"] == "savedmodel" and fed["metric"] == "mean_steps"
    depth = fed["outputs"]["depth"]
    assert depth["mean_abs"] <= 0.5 and depth["max_abs"] <= 3.0  # LiteRT's int8 vs float

    structural = coreml.parity["structural"]
    (image,), (out,) = structural["inputs"], structural["outputs"]
    assert (image["kind"], image["color"], image["scale"], image["bias"]) == ("imageType", "RGB", 1.0, [0.0])
    assert (out["kind"], out["dtype"], out["shape"]) == ("multiArrayType", "float32", [1, 224, 224, 1])
    assert structural["ops"].get("round", 0) > 0  # the int8 rounding kept as float ops
    declared = json.loads(structural["user_defined_metadata"][METADATA_KEY])
    assert sorted((d["kind"], d["name"], d["dtype"]) for d in declared) == [
        ("input", "image", "uint8"), ("output", "depth", "uint8")]
    scale = next(d["scale"] for d in declared if d["name"] == "depth")

    manifest = json.loads((Path(coreml.path) / "manifest.json").read_text())
    assert any("dequantized float equivalent" in note for note in manifest["notes"])
    (depth_entry,) = manifest["outputs"]
    assert depth_entry["quantization"]["scale"] == pytest.approx(scale)  # metres = q x scale
    assert (depth_entry["dtype"], depth_entry["source_dtype"]) == ("float32", "uint8")
    onnx_manifest = json.loads((Path(onnx_result.path) / "manifest.json").read_text())
    assert onnx_manifest["outputs"][0]["dtype"] == "uint8" and "source_dtype" not in onnx_manifest["outputs"][0]

    model = onnx.load(str(next(Path(onnx_result.path).glob("*.onnx"))))
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.UINT8]
    assert [o.type.tensor_type.elem_type for o in model.graph.output] == [onnx.TensorProto.UINT8]
