"""Core ML target: `savedmodel -> coreml` and `torch -> coreml` as mlprogram `.mlpackage` dirs.

coremltools has no ONNX or TFLite front end, so those sources reach Core ML through the graph's
onnx -> savedmodel edge. Image inputs become `ct.ImageType` with the spec's normalisation folded
into scale/bias, so an app can hand the model a CVPixelBuffer; everything else stays a tensor.
Core ML cannot run on Linux: `coreml_check.check_mlpackage` verifies the result structurally.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from edgephoto.convert.graph import ConvertContext, register_edge
from edgephoto.errors import (
    ConversionError,
    InvalidOptionError,
    UnknownNameError,
    UnsupportedOpError,
    require,
)
from edgephoto.files import write_dir_atomic
from edgephoto.zoo.spec import TensorSpec

DEFAULT_DEPLOYMENT_TARGET = "iOS16"  # first release whose mlprogram has everything we emit
COLOR_LAYOUTS = {"RGB": "RGB", "BGR": "BGR", "Y": "GRAYSCALE"}
# Messages coremltools raises for an op it has no translation for.
_OP_PATTERNS = (
    re.compile(r"Conversion for TF op '([^']+)' not implemented"),
    re.compile(r"convert function for op '([^']+)' not implemented"),
    re.compile(r"[Uu]nsupported (?:TF |torch )?op(?:eration)?s?:?\s*'?([\w.:]+)"),
)


def _ct() -> Any:
    return require("coremltools", "convert", "the coreml target")


def image_params(tensor: TensorSpec) -> dict[str, Any] | None:
    """scale/bias/colour layout that reproduce the spec's normalisation, or None if they can't.

    Core ML computes `pixel * scale + bias` with one scale for all channels, so a per-channel
    std is expressible only when every channel shares it.
    """
    norm = tensor.normalization
    if norm is None or tensor.dtype != "float32" or len(tensor.shape) != 4:
        return None
    channels = tensor.shape[3] if tensor.layout == "NHWC" else tensor.shape[1]
    if channels != (1 if norm.color == "Y" else 3) or len(set(norm.std)) != 1:
        return None
    scale = 1.0 / norm.std[0]
    means = list(norm.mean) * (channels if len(norm.mean) == 1 else 1)
    bias = [-m * scale for m in means]
    return {
        "scale": scale,
        "bias": bias[0] if channels == 1 else bias,
        "color_layout": COLOR_LAYOUTS[norm.color],
    }


def _deployment_target(ct: Any, ctx: ConvertContext) -> Any:
    name = str(ctx.options.get("minimum_deployment_target", DEFAULT_DEPLOYMENT_TARGET))
    valid = list(ct.target.__members__)  # iOS16, macOS13, watchOS9, tvOS16, ...
    if name not in valid:
        raise UnknownNameError("minimum_deployment_target", name, valid)
    if ct.target[name] < ct.target.iOS15:
        raise InvalidOptionError(f"mlprogram needs iOS15/macOS12 or later, not {name}")
    return ct.target[name]


OPEN_DIM_LIMIT = 8192  # mlprogram refuses unbounded RangeDims: open H/W up to an 8192 px side


def _shape(ct: Any, shape: tuple[int | None, ...]) -> tuple[Any, ...]:
    return tuple(ct.RangeDim(1, OPEN_DIM_LIMIT) if d is None else int(d) for d in shape)


def _input_type(ct: Any, tensor: TensorSpec, graph_name: str, shape: tuple[int | None, ...],
                ctx: ConvertContext) -> Any:
    params = image_params(tensor) if ctx.options.get("image_input", True) else None
    if params is None:
        norm = tensor.normalization
        if norm is not None and len(set(norm.std)) > 1 and ctx.options.get("image_input", True):
            ctx.notes.append(f"coreml: input {tensor.name} stays a tensor: its per-channel std "
                             f"{list(norm.std)} is not one Core ML image scale")
        return ct.TensorType(name=graph_name, shape=_shape(ct, shape))
    layout = getattr(ct.colorlayout, params.pop("color_layout"))
    channel_first = len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)
    return ct.ImageType(name=graph_name, shape=_shape(ct, shape), color_layout=layout,
                        channel_first=channel_first, **params)


def _convert(ct: Any, model: Any, source: str, inputs: list[Any], ctx: ConvertContext,
             outputs: list[Any] | None = None) -> Any:
    precision = ct.precision.FLOAT16 if ctx.options.get("precision") == "fp16" else ct.precision.FLOAT32
    try:
        return ct.convert(
            model, source=source, convert_to="mlprogram", inputs=inputs, outputs=outputs,
            minimum_deployment_target=_deployment_target(ct, ctx), compute_precision=precision,
        )
    except (UnknownNameError, InvalidOptionError):
        raise
    except Exception as exc:  # coremltools raises bare RuntimeError/ValueError/NotImplementedError
        raise classify_error(exc) from exc


def classify_error(exc: BaseException) -> UnsupportedOpError | ConversionError:
    """Turn a coremltools failure into UnsupportedOpError (op named) or ConversionError."""
    text = str(exc)
    for pattern in _OP_PATTERNS:
        found = pattern.search(text)
        if found:
            return UnsupportedOpError(found.group(1), "coreml", text.strip().splitlines()[0])
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return ConversionError(f"coreml conversion failed: {first}")


def _finish(ct: Any, mlmodel: Any, renames: dict[str, str], ctx: ConvertContext) -> Path:
    """Rename features to the spec's names, set descriptions and metadata, save atomically."""
    spec = mlmodel.get_spec()
    for old, new in renames.items():
        if old != new:
            ct.utils.rename_feature(spec, old, new)
    model = ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, skip_model_load=True)
    info = ctx.spec
    metadata = {str(k): str(v) for k, v in ctx.options.get("metadata", {}).items()}
    model.short_description = info.description
    model.author = "edgephoto"
    model.license = info.licence
    model.version = metadata.get("edgephoto.version", metadata.get("version", ""))
    for tensor in info.inputs:
        norm = tensor.normalization
        what = tensor.meaning or (f"{norm.color} image" if norm else "input tensor")
        model.input_description[tensor.name] = what
    for tensor in info.outputs:
        model.output_description[tensor.name] = tensor.meaning or "output tensor"
    model.user_defined_metadata.update(metadata)
    model.user_defined_metadata["edgephoto.tensor_layouts"] = ",".join(
        f"{t.name}:{t.layout}" for t in (*info.inputs, *info.outputs)
    )
    return _save(model, ctx)


def _save(model: Any, ctx: ConvertContext) -> Path:
    final = write_dir_atomic(ctx.workdir / f"{ctx.spec.name}.mlpackage", lambda d: model.save(str(d)))
    ctx.notes.append("coreml: structural check only on Linux; predict() needs macOS")
    return final


def _pair(spec_tensors: tuple[TensorSpec, ...], graph_names: list[str], what: str) -> dict[str, TensorSpec]:
    """graph name -> spec tensor: by equal name first, then by position among the rest."""
    if len(spec_tensors) != len(graph_names):
        raise ConversionError(
            f"coreml: model has {len(graph_names)} {what}s {graph_names}, spec has "
            f"{[t.name for t in spec_tensors]}"
        )
    by_name = {t.name: t for t in spec_tensors}
    paired = {g: by_name[g] for g in graph_names if g in by_name}
    rest = [t for t in spec_tensors if t not in paired.values()]
    for g in graph_names:
        if g not in paired:
            paired[g] = rest.pop(0)
    return paired


def _signature(path: Path) -> tuple[dict[str, tuple[str, tuple[int | None, ...]]], list[str]]:
    """serving_default's inputs (key -> placeholder name, shape) and its sorted output keys."""
    tf = require("tensorflow", "convert", "SavedModel to Core ML")
    try:
        loaded = tf.saved_model.load(str(path))
        function = loaded.signatures["serving_default"]
    except (OSError, KeyError, ValueError) as exc:
        raise ConversionError(f"coreml: cannot read serving_default of {path}: {exc}") from exc
    inputs = {
        key: (spec.name or key, tuple(spec.shape.as_list()))
        for key, spec in function.structured_input_signature[1].items()
    }
    return inputs, sorted(function.structured_outputs)


def _fit_shape(tensor: TensorSpec, graph_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    """The spec's shape in the graph's layout (onnx2tf turns NCHW models into NHWC)."""
    spec_shape = tensor.shape
    if len(graph_shape) == 4 and len(spec_shape) == 4 and tensor.layout == "NCHW":
        nhwc = (spec_shape[0], spec_shape[2], spec_shape[3], spec_shape[1])
        if all(g in (None, s) for g, s in zip(graph_shape, nhwc, strict=True)) and any(
            g not in (None, s) for g, s in zip(graph_shape, spec_shape, strict=True)
        ):
            return nhwc
    return spec_shape


def _dequantized_context(path: Path, ctx: ConvertContext) -> ConvertContext:
    """For a SavedModel made by dequantizing an integer model (mlprogram has no uint8 arrays):
    the float spec, and the mapping embedded in the package so the structural check accepts
    exactly those float tensors."""
    import dataclasses

    from edgephoto.convert.onnx_passes import dequantize as dq

    mappings = dq.load_record(path)
    if not mappings:
        return ctx
    metadata = {**ctx.options.get("metadata", {}), dq.METADATA_KEY: dq.to_metadata(mappings)}
    ctx.notes.append("coreml: " + dq.describe(mappings))
    return dataclasses.replace(ctx, spec=dq.float_spec(ctx.spec, mappings),
                               options={**ctx.options, "metadata": metadata})


@register_edge("savedmodel", "coreml")
def savedmodel_to_coreml(path: Path, ctx: ConvertContext) -> Path:
    """TF2 SavedModel (serving_default) -> mlprogram, inputs fixed to the spec's shapes."""
    ct = _ct()
    ctx.progress(f"{ctx.spec.name}: coremltools {ct.__version__} from SavedModel")
    ctx = _dequantized_context(path, ctx)
    sig_inputs, sig_outputs = _signature(path)
    by_key = _pair(ctx.spec.inputs, list(sig_inputs), "input")
    inputs, renames = [], {}
    for key, tensor in by_key.items():
        graph_name, graph_shape = sig_inputs[key]
        inputs.append(_input_type(ct, tensor, graph_name, _fit_shape(tensor, graph_shape), ctx))
        renames[graph_name] = tensor.name
    mlmodel = _convert(ct, str(path), "tensorflow", inputs, ctx)
    produced = [o.name for o in mlmodel.get_spec().description.output]
    if len(produced) != len(sig_outputs):
        raise ConversionError(f"coreml: outputs {produced} do not match the signature's {sig_outputs}")
    out_pairs = _pair(ctx.spec.outputs, sig_outputs, "output")
    renames.update({name: out_pairs[key].name for name, key in zip(produced, sig_outputs, strict=True)})
    return _finish(ct, mlmodel, renames, ctx)


def _traced(path: Path, ctx: ConvertContext) -> Any:
    """The torch source as a TorchScript module (coremltools 9 converts traced graphs; its
    torch.export path fails on max_pool2d)."""
    import torch

    from edgephoto.convert.sources.torch import example_inputs, load_torch_module

    module = load_torch_module(path, ctx)
    if isinstance(module, torch.jit.ScriptModule):
        return module
    examples = tuple(torch.from_numpy(a) for a in example_inputs(ctx.spec))
    try:
        with torch.no_grad():
            return torch.jit.trace(module, examples)
    except Exception as exc:  # tracing raises RuntimeError/TypeError from user code
        raise ConversionError(f"coreml: torch.jit.trace failed: {str(exc).splitlines()[0]}") from exc


@register_edge("torch", "coreml")
def torch_to_coreml(path: Path, ctx: ConvertContext) -> Path:
    """A traced torch module -> mlprogram; inputs and outputs take the spec's names directly."""
    ct = _ct()
    traced = _traced(path, ctx)
    ctx.progress(f"{ctx.spec.name}: coremltools {ct.__version__} from traced torch")
    inputs = [_input_type(ct, t, t.name, t.shape, ctx) for t in ctx.spec.inputs]
    outputs = [ct.TensorType(name=t.name) for t in ctx.spec.outputs]
    mlmodel = _convert(ct, traced, "pytorch", inputs, ctx, outputs)
    return _finish(ct, mlmodel, {}, ctx)
