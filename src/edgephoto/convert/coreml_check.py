"""Structural check of a Core ML `.mlpackage` against its ModelSpec.

Core ML's predict() runs only on macOS, so on Linux the parity step for the coreml target is
this: the spec must be an mlprogram whose feature names, kinds, shapes, colour layout and image
scale/bias match the ModelSpec, and the MIL program's op histogram goes into the manifest.
An integer model reaches Core ML dequantized (mlprogram has no uint8 arrays): only the tensors
the package declares under `edgephoto.dequantized`, each an integer tensor of the spec, are
checked as float32 (an image input then as an image with the spec's scale and bias).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.onnx_passes.dequantize import (
    METADATA_KEY,
    IoMapping,
    float_spec,
    from_metadata,
)
from edgephoto.convert.targets.coreml import image_params
from edgephoto.errors import InputFileError, ParityError, require
from edgephoto.zoo.spec import ModelSpec, TensorSpec

NOT_RUN = "not run: Core ML predict() needs macOS"
_COLOR = {10: "GRAYSCALE", 20: "RGB", 30: "BGR", 40: "GRAYSCALE_FLOAT16"}
_ARRAY = {65568: "float32", 65552: "float16", 65600: "float64", 131104: "int32", 131080: "int8"}
_FLOATS = {"float32": ("float32", "float16"), "float16": ("float16",)}


def _load(path: Path) -> Any:
    ct = require("coremltools", "convert", "checking Core ML packages")
    if not (path / "Manifest.json").is_file():
        raise InputFileError(path, "not an .mlpackage (no Manifest.json)")
    try:
        return ct.utils.load_spec(str(path))
    except Exception as exc:  # protobuf decode errors have no common base
        raise InputFileError(path, f"cannot read the Core ML spec: {exc}") from exc


def _walk(block: Any, histogram: Counter[str]) -> None:
    for op in block.operations:
        histogram[op.type] += 1
        for inner in op.blocks:
            _walk(inner, histogram)


def _const_floats(block: Any, argument: Any) -> list[float] | None:
    """Float values of a MIL argument: an inline value or the const op that produces it."""
    binding = argument.arguments[0]
    if binding.WhichOneof("binding") == "value":
        return list(binding.value.immediateValue.tensor.floats.values)
    for op in block.operations:
        if op.type == "const" and op.outputs[0].name == binding.name:
            return list(op.attributes["val"].immediateValue.tensor.floats.values)
    return None


def _consumer(block: Any, name: str, op_type: str, suffix: str) -> Any:
    """The `op_type` op reading `name` whose output coremltools named `...<suffix>`."""
    for op in block.operations:
        if op.type == op_type and op.outputs[0].name.endswith(suffix) and any(
            b.WhichOneof("binding") == "name" and b.name == name
            for arg in op.inputs.values()
            for b in arg.arguments
        ):
            return op
    return None


def _image_scale_bias(block: Any, name: str) -> tuple[float, list[float]]:
    """The `mul` (scale) and `add` (bias) coremltools inserts right after an image input."""
    scale, bias, current = 1.0, [0.0], name
    mul = _consumer(block, current, "mul", "__scaled__")
    if mul is not None:
        values = _const_floats(block, mul.inputs["y"])
        scale, current = (values[0] if values else math.nan), mul.outputs[0].name
    add = _consumer(block, current, "add", "__biased__")
    if add is not None:
        bias = _const_floats(block, add.inputs["y"]) or [math.nan]
    return scale, bias


def _shape_ok(got: tuple[int, ...], tensor: TensorSpec) -> bool:
    """Equal to the spec's shape, or to its other 4-D layout (onnx2tf makes NCHW models NHWC)."""
    want = tensor.shape
    options = [want]
    if len(want) == 4:
        options.append((want[0], want[2], want[3], want[1]) if tensor.layout == "NCHW"
                       else (want[0], want[3], want[1], want[2]))
    return any(
        len(got) == len(o) and all(w is None or g == w for g, w in zip(got, o, strict=True))
        for o in options
    )


def _check_feature(feature: Any, tensor: TensorSpec, block: Any, problems: list[str]) -> dict[str, Any]:
    kind = feature.type.WhichOneof("Type")
    row: dict[str, Any] = {"name": feature.name, "kind": kind, "description": feature.shortDescription}
    if kind == "imageType":
        image = feature.type.imageType
        row.update(height=image.height, width=image.width, color=_COLOR.get(image.colorSpace, "?"))
        if image.WhichOneof("SizeFlexibility") == "imageSizeRange":  # open H/W: sizes it accepts
            sizes = image.imageSizeRange
            row.update(height_range=[sizes.heightRange.lowerBound, sizes.heightRange.upperBound],
                       width_range=[sizes.widthRange.lowerBound, sizes.widthRange.upperBound])
        expected = image_params(tensor)
        if expected is None:
            problems.append(f"{tensor.name}: image input, but the spec's tensor is not an image")
            return row
        scale, bias = _image_scale_bias(block, feature.name)
        row.update(scale=scale, bias=bias)
        want_bias = expected["bias"] if isinstance(expected["bias"], list) else [expected["bias"]]
        if len(bias) == 1 and len(want_bias) > 1:
            bias = bias * len(want_bias)
        dims = tuple(tensor.shape[1:3] if tensor.layout == "NHWC" else tensor.shape[2:4])
        if None not in dims and (image.height, image.width) != dims:  # open H/W: a size range
            problems.append(f"{tensor.name}: image {image.height}x{image.width}, spec {dims}")
        if row["color"] != expected["color_layout"]:
            problems.append(f"{tensor.name}: colour {row['color']}, spec {expected['color_layout']}")
        if not math.isclose(scale, expected["scale"], rel_tol=1e-5):
            problems.append(f"{tensor.name}: scale {scale}, spec {expected['scale']}")
        if len(bias) != len(want_bias) or not all(
            math.isclose(b, w, rel_tol=1e-5, abs_tol=1e-6) for b, w in zip(bias, want_bias, strict=False)
        ):
            problems.append(f"{tensor.name}: bias {bias}, spec {want_bias}")
    elif kind == "multiArrayType":
        array = feature.type.multiArrayType
        shape = tuple(int(d) for d in array.shape)
        dtype = _ARRAY.get(array.dataType, "?")
        row.update(shape=list(shape), dtype=dtype)
        if shape and not _shape_ok(shape, tensor):
            problems.append(f"{tensor.name}: shape {list(shape)}, spec {list(tensor.shape)}")
        if dtype not in _FLOATS.get(tensor.dtype, (tensor.dtype,)):
            problems.append(f"{tensor.name}: dtype {dtype}, spec {tensor.dtype}")
    else:
        problems.append(f"{tensor.name}: feature kind {kind} is neither image nor multiarray")
    return row


def _dequantized(metadata: dict[str, str], spec: ModelSpec, problems: list[str]) -> list[IoMapping]:
    """The integer tensors the package declares it holds as float (dequantize.METADATA_KEY).

    Each must be an integer tensor of the spec, of that kind and dtype: only those are then
    checked as float32; a declaration that does not fit is a problem, never a pass.
    """
    try:
        mappings = from_metadata(metadata)
    except (ValueError, TypeError) as exc:
        problems.append(f"{METADATA_KEY}: unreadable ({exc})")
        return []
    tensors = {("input", t.name): t for t in spec.inputs} | {("output", t.name): t for t in spec.outputs}
    good = []
    for m in mappings:
        tensor = tensors.get((m.kind, m.name))
        if tensor is None or tensor.dtype != m.dtype or np.dtype(tensor.dtype).kind not in "iu":
            want = f"{tensor.dtype} {m.kind}" if tensor is not None else f"no {m.kind} of that name"
            problems.append(f"{METADATA_KEY}: declares {m.kind} {m.name} {m.dtype}; the spec has {want}")
        else:
            good.append(m)
    return good


def check_mlpackage(path: str | Path, spec: ModelSpec) -> dict[str, Any]:
    """Verify an .mlpackage against `spec`; returns the facts for the manifest.

    Raises ParityError listing every mismatch (names, kinds, shapes, colour, scale/bias, type).
    """
    path = Path(path)
    proto = _load(path)
    problems: list[str] = []
    model_type = proto.WhichOneof("Type")
    if model_type != "mlProgram":
        raise ParityError(f"{path.name}: a {model_type} model, not an mlProgram", {"type": model_type})
    function = proto.mlProgram.functions["main"]
    block = function.block_specializations[function.opset]
    histogram: Counter[str] = Counter()
    _walk(block, histogram)
    if not histogram:
        problems.append("the MIL program has no ops")

    metadata = proto.description.metadata
    mappings = _dequantized(dict(metadata.userDefined), spec, problems)
    checked = float_spec(spec, mappings) if mappings else spec
    rows: dict[str, list[dict[str, Any]]] = {}
    for what, features, tensors in (
        ("inputs", proto.description.input, checked.inputs),
        ("outputs", proto.description.output, checked.outputs),
    ):
        got = [f.name for f in features]
        want = [t.name for t in tensors]
        if sorted(got) != sorted(want):
            problems.append(f"{what}: artifact has {got}, spec has {want}")
        by_name = {t.name: t for t in tensors}
        rows[what] = [
            _check_feature(f, by_name[f.name], block, problems) for f in features if f.name in by_name
        ]

    facts: dict[str, Any] = {
        "type": "mlProgram",
        "specification_version": proto.specificationVersion,
        "opset": function.opset,
        "inputs": rows["inputs"],
        "outputs": rows["outputs"],
        "ops": dict(sorted(histogram.items())),
        "op_count": sum(histogram.values()),
        "author": metadata.author,
        "license": metadata.license,
        "version": metadata.versionString,
        "user_defined_metadata": dict(metadata.userDefined),
        "numerical_parity": NOT_RUN,
    }
    if mappings:
        facts["dequantized"] = [asdict(m) for m in mappings]
    if problems:
        raise ParityError(f"{path.name} does not match {spec.name}: " + "; ".join(problems),
                          {**facts, "problems": problems})
    return facts
