"""Build a ModelSpec for a user's own model file, so it converts like a zoo entry.

The file's format comes from its suffix; tensor names and shapes are read from the file; the
task, scale, fixed input shape and normalisation come from flags or a small YAML file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgephoto.errors import InputFileError, InvalidOptionError, MissingExtraError
from edgephoto.zoo.spec import (
    ModelSpec,
    Normalization,
    SourceFormat,
    TensorSpec,
    TilePolicy,
    WeightFile,
)

TASKS = ("upscale", "segmentation", "matting", "depth", "face_detection", "face_landmarks")
# What a model of each task usually expects when the user does not say (pixels 0-255 -> input).
DEFAULT_NORMALIZATION = {
    "upscale": Normalization(std=(1.0,)),
    "segmentation": Normalization(std=(255.0,)),
    "matting": Normalization(std=(255.0,)),
    "depth": Normalization(std=(255.0,)),
    "face_detection": Normalization(mean=(127.5,), std=(127.5,)),
    "face_landmarks": Normalization(std=(255.0,)),
}
DEFAULT_TILE = 128


@dataclass
class UserModelOptions:
    """What the user says about their model (flags or YAML keys of the same names)."""

    task: str
    scale: int = 1
    input_shape: tuple[int, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    color: str = "RGB"
    layout: str | None = None
    outputs: tuple[str, ...] = ()
    licence: str = "user-supplied"

    @classmethod
    def from_yaml(cls, path: Path, **overrides: Any) -> UserModelOptions:
        import yaml

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputFileError(path, f"cannot read model config: {exc}") from None
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidOptionError(
                f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}"
            )
        data.update({k: v for k, v in overrides.items() if v not in (None, (), "")})
        for key in ("input_shape", "mean", "std", "outputs"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


def detect_format(path: Path) -> SourceFormat:
    if path.is_dir():
        if (path / "saved_model.pb").exists():
            return "savedmodel"
        raise InputFileError(path, "a directory that is not a SavedModel")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            kind = json.loads(path.read_text()).get("format", "")
        except (OSError, json.JSONDecodeError, AttributeError) as exc:
            raise InputFileError(path, f"not a TF.js model.json ({exc})") from None
        return "tfjs_graph" if kind == "graph-model" else "tfjs_layers"
    formats: dict[str, SourceFormat] = {
        ".onnx": "onnx", ".tflite": "tflite", ".pb": "frozen_pb", ".keras": "keras",
        ".h5": "keras", ".pt": "torch", ".pth": "torch",
    }
    if suffix not in formats:
        raise InputFileError(path, f"unknown model format '{suffix}'; known: {', '.join(formats)}")
    return formats[suffix]


def _inspect_onnx(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("onnx", "convert", "reading ONNX models") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise InputFileError(path, f"not a readable ONNX model ({type(exc).__name__})") from None
    initializers = {i.name for i in model.graph.initializer}

    def dims(value: Any) -> tuple:
        return tuple(d.dim_value or None for d in value.type.tensor_type.shape.dim)

    inputs = [(v.name, dims(v)) for v in model.graph.input if v.name not in initializers]
    return inputs, [(v.name, dims(v)) for v in model.graph.output]


def _inspect_tflite(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    from edgephoto.runtime.backends.base import load_backend

    with load_backend("litert", path) as backend:
        return (
            [(t.name, tuple(t.shape)) for t in backend.inputs()],
            [(t.name, tuple(t.shape)) for t in backend.outputs()],
        )


def _inspect_tfjs(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    model = json.loads(path.read_text())
    signature = model.get("signature") or model.get("userDefinedMetadata", {}).get("signature")
    if signature:
        def entries(side: dict[str, Any]) -> list[tuple[str, tuple]]:
            return [
                (name.split(":")[0], tuple(int(d["size"]) if int(d["size"]) > 0 else None
                                          for d in spec["tensorShape"].get("dim", [])))
                for name, spec in side.items()
            ]
        return entries(signature["inputs"]), entries(signature["outputs"])
    config = model["modelTopology"]["model_config"]["config"]
    layers = {layer["name"]: layer for layer in config["layers"]}
    inputs = [
        (name, tuple(layers[name]["config"]["batch_input_shape"]))
        for name, *_ in config["input_layers"]
    ]
    outputs = [(name, ()) for name, *_ in config["output_layers"]]
    return inputs, outputs


def _inspect_frozen_pb(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """Placeholders are the inputs; nodes nothing consumes (but constants) are the outputs."""
    from edgephoto.convert.sources.tensorflow import read_graph_def

    graph = read_graph_def(path)
    consumed = {name.lstrip("^").split(":")[0] for node in graph.node for name in node.input}
    inputs = []
    for node in graph.node:
        if node.op == "Placeholder":
            dims = node.attr["shape"].shape.dim
            inputs.append((node.name, tuple(d.size if d.size > 0 else None for d in dims)))
    outputs = [(n.name, ()) for n in graph.node
               if n.name not in consumed and n.op not in ("Const", "NoOp", "Placeholder")]
    return inputs, outputs


INSPECTORS = {"frozen_pb": _inspect_frozen_pb, "onnx": _inspect_onnx, "tflite": _inspect_tflite, "tfjs_graph": _inspect_tfjs,
              "tfjs_layers": _inspect_tfjs}


def spec_from_file(path: Path, options: UserModelOptions) -> ModelSpec:
    """A ModelSpec for `path`: names and shapes from the file, the rest from `options`."""
    if not path.exists():
        raise InputFileError(path, "no such file")
    if options.task not in TASKS:
        from edgephoto.errors import UnknownNameError

        raise UnknownNameError("task", options.task, TASKS)
    fmt = detect_format(path)
    if fmt in INSPECTORS:
        inputs, outputs = INSPECTORS[fmt](path)
        if options.outputs:  # the user names the outputs to keep (e.g. one of several heads)
            outputs = [(n, ()) for n in options.outputs]
    elif options.input_shape and options.outputs:
        inputs, outputs = [("input", options.input_shape)], [(n, ()) for n in options.outputs]
    else:
        raise InvalidOptionError(
            f"{path.name}: a {fmt} model needs --input-shape and --outputs (names) to be given"
        )
    if len(inputs) != 1:
        raise InvalidOptionError(f"{path.name}: {len(inputs)} inputs; only single-image models convert")
    name, shape = inputs[0]
    if not shape and options.input_shape:  # a graph that leaves its input rank open
        shape = options.input_shape
    layout = options.layout or ("NCHW" if len(shape) == 4 and shape[1] in (1, 3) else "NHWC")
    channels = shape[1] if layout == "NCHW" else shape[-1]
    fixed = options.input_shape or tuple(
        DEFAULT_TILE if d is None and i in ((2, 3) if layout == "NCHW" else (1, 2)) else (d or 1)
        for i, d in enumerate(shape)
    )
    if channels is None:
        channels = fixed[1] if layout == "NCHW" else fixed[-1]
    default = DEFAULT_NORMALIZATION[options.task]
    color = "Y" if channels == 1 else options.color
    norm = Normalization(options.mean or default.mean, options.std or default.std, color)  # type: ignore[arg-type]
    h, w = (fixed[2], fixed[3]) if layout == "NCHW" else (fixed[1], fixed[2])
    if options.task == "upscale":  # an open output shape follows from the input and the scale
        s = options.scale
        upscaled = (fixed[0], fixed[1], h * s, w * s) if layout == "NCHW" else (fixed[0], h * s, w * s, fixed[3])
        outputs = [(n, tuple(shape_) or upscaled) for n, shape_ in outputs]
    stat = path.stat()
    return ModelSpec(
        name=path.stem.replace(".", "-") if path.name != "model.json" else path.parent.name,
        task=options.task,
        source_format=fmt,
        files=(WeightFile(path.name, "", stat.st_size),),
        inputs=(TensorSpec(name, tuple(fixed), layout=layout, normalization=norm),),  # type: ignore[arg-type]
        # 4-D outputs of an image model share its layout (NCHW in, NCHW out)
        outputs=tuple(
            TensorSpec(n, tuple(s), layout=layout if len(s) == 4 else "NHWC")  # type: ignore[arg-type]
            for n, s in outputs
        ),
        tile=TilePolicy("tile" if options.task in ("upscale", "depth") else "whole", max(h, w), 16, 16),
        licence=options.licence,
        description=f"user model {path.name}",
        upstream=str(path),
        scale=options.scale,
    )
