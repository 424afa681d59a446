"""Build a ModelSpec for a user's own model file, so it converts like a zoo entry.

The file's format comes from its suffix; tensor names and shapes are read from the file; the
task, scale, fixed input shape and normalisation come from flags or a small YAML file.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from edgephoto.convert.sources.ncnn import inspect as _inspect_ncnn
from edgephoto.errors import (
    ConversionError,
    EdgePhotoError,
    InputFileError,
    InvalidOptionError,
    require,
)
from edgephoto.tasks import TASKS
from edgephoto.zoo.spec import (
    ModelSpec,
    Normalization,
    SourceFormat,
    TensorSpec,
    TilePolicy,
    WeightFile,
)

DEFAULT_TILE = 128


@dataclass
class UserModelOptions:
    """What the user says about their model (flags or YAML keys of the same names)."""

    task: str
    scale: int | None = None  # upscalers: measured from the model when not given
    input_shape: tuple[int | None, ...] | None = None  # None (or -1) = open: the tile size
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
        if data.get("input_shape") is not None:
            data["input_shape"] = parse_shape(data["input_shape"])
        return cls(**data)


def parse_shape(dims: Any) -> tuple[int | None, ...]:
    """'1,-1,-1,3' or [1, -1, -1, 3] -> (1, None, None, 3): -1 (or 0, ?, None) is an open dim."""
    items = dims.split(",") if isinstance(dims, str) else list(dims)
    shape: list[int | None] = []
    for item in items:
        text = str(item).strip()
        if text in ("-1", "?", "None", "none", "0", ""):
            shape.append(None)
            continue
        try:
            value = int(text)
        except ValueError:
            value = -2
        if value < 1:
            raise InvalidOptionError(f"input shape {dims!r}: '{text}' is not a size (use -1 for any size)")
        shape.append(value)
    return tuple(shape)


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
        ".h5": "keras", ".pt": "torch", ".pth": "torch", ".param": "ncnn",
    }
    if suffix not in formats:
        raise InputFileError(path, f"unknown model format '{suffix}'; known: {', '.join(formats)}")
    return formats[suffix]


def _inspect_onnx(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    onnx = require("onnx", "convert", "reading ONNX models")
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
    return _keras_io(model["modelTopology"]["model_config"]["config"])


def _inspect_frozen_pb(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """Placeholders are the inputs; nodes nothing consumes (but constants) are the outputs.

    A placeholder of unknown rank (TF1 graphs fed from an iterator) reads as (); when a Conv2D
    takes it directly, that conv's filter tells the channels and its data_format the layout.
    """
    from edgephoto.convert.sources.tensorflow import read_graph_def

    graph = read_graph_def(path)
    consumed = {name.lstrip("^").split(":")[0] for node in graph.node for name in node.input}
    nodes = {node.name: node for node in graph.node}
    inputs = []
    for node in graph.node:
        if node.op != "Placeholder":
            continue
        shape = node.attr["shape"].shape
        dims = tuple(d.size if d.size > 0 else None for d in shape.dim)
        if shape.unknown_rank or not shape.dim:
            dims = _conv_input_shape(node.name, graph.node, nodes) or ()
        inputs.append((node.name, dims))
    outputs = [(n.name, ()) for n in graph.node
               if n.name not in consumed and n.op not in ("Const", "NoOp", "Placeholder")]
    return inputs, outputs


def _conv_input_shape(name: str, graph_nodes: Any, nodes: dict[str, Any]) -> tuple | None:
    for node in graph_nodes:
        if node.op in ("Conv2D", "DepthwiseConv2dNative") and node.input[:1] == [name] and len(node.input) > 1:
            weights = nodes.get(node.input[1].split(":")[0])
            if weights is None or weights.op != "Const":
                return None
            filt = [d.size for d in weights.attr["value"].tensor.tensor_shape.dim]
            if len(filt) != 4:
                return None
            nchw = node.attr["data_format"].s == b"NCHW"
            return (None, filt[2], None, None) if nchw else (None, None, None, filt[2])
    return None


def _keras_io(config: dict[str, Any]) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """Input shapes and output names from a functional Keras model config (TF.js layers, .h5, .keras)."""
    layers = {layer["name"]: layer for layer in config["layers"]}
    inputs = [(name, tuple(layers[name]["config"]["batch_input_shape"])) for name, *_ in config["input_layers"]]
    return inputs, [(name, ()) for name, *_ in config["output_layers"]]


def _inspect_keras(path: Path) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """The file's own model config, read without TensorFlow: a .keras zip's config.json, an
    .h5's `model_config` attribute (a weights-only .h5 has none: an InputFileError)."""
    if path.suffix.lower() == ".keras":
        with zipfile.ZipFile(path) as archive:
            return _keras_io(json.loads(archive.read("config.json"))["config"])
    with require("h5py", "convert", "reading Keras .h5 models").File(path, "r") as h5:
        return _keras_io(json.loads(h5.attrs["model_config"])["config"])


INSPECTORS = {"frozen_pb": _inspect_frozen_pb, "onnx": _inspect_onnx, "tflite": _inspect_tflite,
              "tfjs_graph": _inspect_tfjs, "tfjs_layers": _inspect_tfjs, "keras": _inspect_keras,
              "ncnn": _inspect_ncnn}


def _inspect(path: Path, fmt: str) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """Names and shapes from the file; a file that does not parse is an InputFileError."""
    try:
        inputs, outputs = INSPECTORS[fmt](path)
        return ([(str(n), tuple(_dim(d) for d in s)) for n, s in inputs],
                [(str(n), tuple(_dim(d) for d in s)) for n, s in outputs])
    except EdgePhotoError:
        raise
    except Exception as exc:  # malformed JSON/protobuf/flatbuffers fail in many ways
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise InputFileError(path, f"not a readable {fmt} model ({type(exc).__name__}"
                                   f"{': ' + detail if detail else ''})") from None


def _dim(d: Any) -> int | None:
    if d is None:
        return None
    value = int(d)
    return value if value > 0 else None


def _shape_hint(path: Path, fmt: str, name: str) -> str:
    example = "1,3,-1,-1 (NCHW)" if fmt in ("onnx", "torch", "ncnn") else "1,-1,-1,3 (NHWC)"
    return (f"{path.name}: input '{name}' declares no shape; give --input-shape, e.g. {example} "
            "(-1 = any size: converted at the tile size)")


def _layout_of(shape: tuple, options: UserModelOptions, fmt: str) -> str:
    if options.layout:
        if options.layout not in ("NHWC", "NCHW"):
            raise InvalidOptionError(f"layout '{options.layout}': valid are NHWC, NCHW")
        return options.layout
    if len(shape) != 4:
        return "NHWC"
    if shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4):
        return "NCHW"
    if shape[3] is None and shape[1] is not None:
        return "NCHW"
    return "NCHW" if fmt in ("onnx", "torch", "ncnn") and shape[3] not in (1, 3, 4) else "NHWC"


def _fixed_shape(path: Path, fmt: str, name: str, shape: tuple, given: tuple | None,
                 layout: str) -> tuple[int, ...]:
    """The shape the model converts at: the file's, with the user's dims over it and open
    spatial dims at the tile size (batch 1)."""
    if given is not None:
        if shape and len(given) != len(shape):
            raise InvalidOptionError(f"{path.name}: --input-shape has {len(given)} dims; "
                                     f"input '{name}' has {len(shape)}")
        shape = tuple(g if g is not None else s for g, s in zip(given, shape or given, strict=True))
    if len(shape) != 4:
        raise InvalidOptionError(_shape_hint(path, fmt, name) if not shape else
                                 f"{path.name}: input '{name}' has shape {shape}; only 4-D image inputs convert")
    channel_axis = 1 if layout == "NCHW" else 3
    if shape[channel_axis] is None:
        raise InvalidOptionError(_shape_hint(path, fmt, name))
    return tuple(int(d) if d is not None else (1 if i == 0 else DEFAULT_TILE)
                 for i, d in enumerate(shape))


def _output_layout(shape: tuple[int, ...], in_hw: tuple[int, int], default: str) -> str:
    """The layout an output really has: where its spatial dims (a multiple of the input's) sit."""
    if len(shape) != 4:
        return "NHWC"

    def spatial(h: int, w: int) -> bool:
        return h * in_hw[1] == w * in_hw[0] and h > 0

    nhwc, nchw = spatial(shape[1], shape[2]), spatial(shape[2], shape[3])
    if nhwc and nchw:
        return default
    return "NCHW" if nchw else "NHWC"


def probe_outputs(spec: ModelSpec, path: Path) -> dict[str, tuple[int, ...]]:
    """Run the source once on a grey input of the fixed shape: the real output shapes."""
    import tempfile

    import numpy as np

    from edgephoto.convert.graph import ConvertContext, source_runner

    tensor = spec.inputs[0]
    shape = cast(tuple[int, ...], tensor.shape)  # user specs have every input dim fixed
    feed = {tensor.name: np.full(shape, 0.5, np.dtype(tensor.dtype))}
    with tempfile.TemporaryDirectory(prefix="edgephoto-probe-") as work:
        try:
            result = source_runner(path, spec.source_format, ConvertContext(spec, Path(work)))(feed)
            broken = [n for n, v in result.items() if not np.isfinite(np.asarray(v, np.float64)).all()]
            if broken:  # damaged weights (a flipped exponent bit) poison every output, and parity
                raise InputFileError(path, f"output '{broken[0]}' is NaN or infinite on a grey input "
                                           "(damaged weights?)")
            return {name: tuple(int(d) for d in np.shape(value)) for name, value in result.items()}
        except EdgePhotoError:
            raise
        except Exception as exc:  # the framework's own failure on this graph
            text = " ".join(str(exc).strip().splitlines()[:2])[:240]
            raise ConversionError(f"{path.name}: the model does not run on a {list(tensor.shape)} "
                                  f"input ({type(exc).__name__}: {text})") from None


def spec_from_file(path: Path, options: UserModelOptions, *, probe: bool = True) -> ModelSpec:
    """A ModelSpec for `path`: names and shapes from the file, the rest from `options`.

    With `probe`, the source runs once so output shapes, layouts and (for upscalers) the
    scale are the ones the model really produces, not guesses.
    """
    if not path.exists():
        raise InputFileError(path, "no such file")
    task = TASKS.get(options.task)  # unknown names raise with the valid ones
    if options.color not in ("RGB", "BGR", "Y"):
        raise InvalidOptionError(f"color '{options.color}': valid are RGB, BGR, Y")
    fmt = detect_format(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputFileError(path, "empty file")
    if fmt in INSPECTORS:
        inputs, outputs = _inspect(path, fmt)
        if options.outputs:  # the user names the outputs to keep (e.g. one of several heads)
            outputs = [(n, ()) for n in options.outputs]
    elif options.input_shape and options.outputs:
        inputs, outputs = [("input", ())], [(n, ()) for n in options.outputs]
    else:
        raise InvalidOptionError(
            f"{path.name}: a {fmt} model needs --input-shape and --outputs (names) to be given"
        )
    if not inputs:
        raise InputFileError(path, "the model declares no inputs")
    if len(inputs) != 1:
        raise InvalidOptionError(f"{path.name}: {len(inputs)} inputs; only single-image models convert")
    if not outputs:
        raise InputFileError(path, "the model has no outputs")
    name, shape = inputs[0]
    layout = _layout_of(shape or tuple(options.input_shape or ()), options, fmt)
    fixed = _fixed_shape(path, fmt, name, shape, options.input_shape, layout)
    channels = fixed[1] if layout == "NCHW" else fixed[3]
    h, w = (fixed[2], fixed[3]) if layout == "NCHW" else (fixed[1], fixed[2])
    default = task.normalization
    color = "Y" if channels == 1 else options.color
    norm = Normalization(options.mean or default.mean, options.std or default.std, color)  # type: ignore[arg-type]
    scale = options.scale or 1
    if task.image_output and not probe:  # an open output shape follows from the scale
        upscaled = (fixed[0], fixed[1], h * scale, w * scale) if layout == "NCHW" else (fixed[0], h * scale, w * scale, fixed[3])
        outputs = [(n, tuple(s_) or upscaled) for n, s_ in outputs]
    out_norm = norm if task.image_output else None  # an image out, in the input's values
    stat = path.stat()
    spec = ModelSpec(
        name=path.stem.replace(".", "-") if path.name != "model.json" else path.parent.name,
        task=options.task,
        source_format=fmt,
        files=(WeightFile(path.name, "", stat.st_size),),
        inputs=(TensorSpec(name, fixed, layout=layout, normalization=norm),),  # type: ignore[arg-type]
        outputs=tuple(
            TensorSpec(n, tuple(s_), layout=layout if len(s_) == 4 else "NHWC",  # type: ignore[arg-type]
                       normalization=out_norm)
            for n, s_ in outputs
        ),
        tile=TilePolicy("tile" if task.tiled else "whole", max(h, w), 16, 16),
        licence=options.licence,
        description=f"user model {path.name}",
        upstream=str(path),
        scale=scale,
    )
    if not probe:
        return spec
    import dataclasses

    shapes = probe_outputs(spec, path)
    tensors = []
    for tensor in spec.outputs:
        got = shapes.get(tensor.name)
        if got is None:
            raise ConversionError(f"{path.name}: the model produced no output '{tensor.name}'")
        layout_out = _output_layout(got, (h, w), layout)
        tensors.append(dataclasses.replace(tensor, shape=got, layout=layout_out))  # type: ignore[arg-type]
    if task.image_output:
        first = tensors[0]
        out_h = first.shape[2] if first.layout == "NCHW" else first.shape[1]
        measured = out_h // h if len(first.shape) == 4 and out_h and out_h % h == 0 else 0
        if measured < 1:
            raise ConversionError(f"{path.name}: output '{first.name}' of shape {list(first.shape)} "
                                  f"is not a whole multiple of the {h}x{w} input")
        if options.scale and options.scale != measured:
            raise InvalidOptionError(f"{path.name}: --scale {options.scale}, but the model "
                                     f"upscales x{measured} ({list(fixed)} -> {list(first.shape)})")
        scale = measured
    return dataclasses.replace(spec, outputs=tuple(tensors), scale=scale)
