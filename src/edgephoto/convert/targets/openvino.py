"""OpenVINO target: `savedmodel`, `onnx` and `tflite` -> IR (`model.xml` + `model.bin`).

OpenVINO's own front ends read all three formats, so each is one edge. The IR gets the spec's
static input shapes, the spec's tensor names, the layout and the zoo metadata in rt_info (under
"edgephoto"), and `runtime_options/INFERENCE_PRECISION_HINT` so a CPU with bf16 does not
silently run the float model at bf16 (the runtime should still set the hint explicitly).
Normalisation is not baked in: the task layer above the backend does it for every backend.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from edgephoto.convert.graph import ConvertContext, register_edge
from edgephoto.errors import (
    ConversionError,
    InvalidOptionError,
    UnsupportedOpError,
    require,
)
from edgephoto.files import write_dir_atomic
from edgephoto.zoo.spec import TensorSpec

PRECISION_HINTS = ("f32", "bf16", "f16")
_OP_PATTERNS = (
    re.compile(r"No conversion rule found for operations?:\s*([^\n]+)"),
    re.compile(r"No translator found for (\S+) node"),
    re.compile(r"[Uu]nsupported operations?:?\s*([^\n]+)"),
    re.compile(r"Failed operations detailed log:\s*\n--\s*(\S+)"),
)


def _ov() -> Any:
    return require("openvino", "runtime", "the openvino target")


def classify_error(exc: BaseException) -> UnsupportedOpError | ConversionError:
    """Turn an OpenVINO front-end failure into UnsupportedOpError (op named) or ConversionError."""
    text = str(exc)
    for pattern in _OP_PATTERNS:
        found = pattern.search(text)
        if found:
            ops = [op.strip() for op in found.group(1).split(",") if op.strip()]
            detail = f"all unsupported: {', '.join(ops)}" if len(ops) > 1 else ""
            return UnsupportedOpError(ops[0], "openvino", detail)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # OpenVINO prefixes messages with "Check '...' failed at file.cpp:N:"; skip to the reason.
    useful = [line for line in lines if not line.startswith(("Check '", "FrontEnd API failed"))]
    first = (useful or lines or [type(exc).__name__])[0]
    return ConversionError(f"openvino conversion failed: {first}")


def _pair(ports: list[Any], tensors: tuple[TensorSpec, ...], what: str) -> list[tuple[Any, TensorSpec]]:
    """Match model ports to spec tensors: by a shared name first, then by position."""
    if len(ports) != len(tensors):
        names = [p.get_any_name() if p.get_names() else "?" for p in ports]
        raise ConversionError(
            f"openvino: model has {len(ports)} {what}s {names}, spec has {[t.name for t in tensors]}"
        )
    by_name = {t.name: t for t in tensors}
    paired: dict[int, TensorSpec] = {}
    for i, port in enumerate(ports):
        for name in port.get_names():
            base = name.split(":")[0]
            if base in by_name and by_name[base] not in paired.values():
                paired[i] = by_name[base]
                break
    rest = [t for t in tensors if t not in paired.values()]
    return [(port, paired[i] if i in paired else rest.pop(0)) for i, port in enumerate(ports)]


def _fix_inputs(ov: Any, model: Any, ctx: ConvertContext) -> None:
    """Static spec shapes, spec names and spec layout on the inputs."""
    pairs = _pair(list(model.inputs), ctx.spec.inputs, "input")
    shapes = {}
    for port, tensor in pairs:
        want = ov.PartialShape([-1 if d is None else int(d) for d in tensor.shape])
        if port.get_partial_shape() != want:
            if not port.get_partial_shape().compatible(want):
                raise ConversionError(
                    f"openvino: input {tensor.name} is {port.get_partial_shape()}, spec {list(tensor.shape)}"
                )
            shapes[port] = want
    if shapes:
        try:
            model.reshape(shapes)
        except Exception as exc:  # OpenVINO raises its own RuntimeError subclasses
            raise ConversionError(f"openvino: cannot fix input shapes: {str(exc).splitlines()[0]}") from exc
    for param, (_port, tensor) in zip(model.get_parameters(), pairs, strict=True):
        param.set_friendly_name(tensor.name)
        param.output(0).get_tensor().set_names({tensor.name})
        if len(tensor.shape) == 4:
            param.set_layout(ov.Layout(tensor.layout))


def _fix_outputs(model: Any, ctx: ConvertContext) -> None:
    for port, tensor in _pair(list(model.outputs), ctx.spec.outputs, "output"):
        port.get_tensor().set_names({tensor.name})
        port.get_node().set_friendly_name(tensor.name)


def _annotate(model: Any, ctx: ConvertContext, precision: str, hint: str) -> None:
    """Zoo metadata, layouts and the precision hint in rt_info (saved inside the .xml)."""
    rt_info = model.get_rt_info()
    if "conversion_parameters" in rt_info:  # the build machine's scratch path: not for users
        del rt_info["conversion_parameters"]
    for key, value in ctx.options.get("metadata", {}).items():
        key = str(key).removeprefix("edgephoto.")  # already under the "edgephoto" section
        model.set_rt_info(str(value), ["edgephoto", key])
    for tensor in (*ctx.spec.inputs, *ctx.spec.outputs):
        model.set_rt_info(tensor.layout, ["edgephoto", "tensor_layout", tensor.name])
    model.set_rt_info(precision, ["edgephoto", "weights_precision"])
    model.set_rt_info("not applied: the runtime normalises inputs", ["edgephoto", "preprocessing"])
    model.set_rt_info(hint, ["runtime_options", "INFERENCE_PRECISION_HINT"])


def _save(ov: Any, model: Any, source: Path, ctx: ConvertContext, fp16: bool) -> Path:
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    final = ctx.workdir / f"{ctx.spec.name}.openvino"
    if final.resolve() in (source.resolve(), *source.resolve().parents):
        raise ConversionError(f"openvino: refusing to overwrite the input {source}")
    write_dir_atomic(final, lambda d: ov.save_model(model, str(d / "model.xml"), compress_to_fp16=fp16))
    return final / "model.xml"


def _convert(path: Path, ctx: ConvertContext, source: str) -> Path:
    ov = _ov()
    precision = str(ctx.options.get("precision", "fp32"))
    hint = str(ctx.options.get("inference_precision", "f32"))
    if hint not in PRECISION_HINTS:
        raise InvalidOptionError(f"inference_precision '{hint}' is not one of {PRECISION_HINTS}")
    ctx.progress(f"{ctx.spec.name}: OpenVINO {ov.__version__} from {source}")
    try:
        model = ov.convert_model(str(path))
    except Exception as exc:  # OpConversionFailure, GeneralFailure, ... share no useful base
        raise classify_error(exc) from exc
    _fix_inputs(ov, model, ctx)
    _fix_outputs(model, ctx)
    _annotate(model, ctx, precision, hint)
    ctx.notes.append(
        f"openvino: run with INFERENCE_PRECISION_HINT={hint} (the CPU plugin picks bf16 on CPUs "
        "that have it; the IR carries the hint in rt_info runtime_options)"
    )
    return _save(ov, model, Path(path), ctx, fp16=precision == "fp16")


@register_edge("savedmodel", "openvino")
def savedmodel_to_openvino(path: Path, ctx: ConvertContext) -> Path:
    """TF2 SavedModel (serving_default) -> IR."""
    return _convert(path, ctx, "savedmodel")


@register_edge("onnx", "openvino")
def onnx_to_openvino(path: Path, ctx: ConvertContext) -> Path:
    """ONNX -> IR through OpenVINO's ONNX front end (outputs the spec does not list dropped)."""
    from edgephoto.convert.onnx_passes.prune import spec_outputs_only

    return _convert(spec_outputs_only(path, ctx), ctx, "onnx")


# No direct tflite -> openvino edge: OpenVINO's TFLite front end refuses custom ops that the ONNX
# path has already rewritten, and runs integer TFLite as FakeQuantize on its own int8 kernels
# (FastDepth: mean 2.9, max 17 quantization steps off LiteRT), while via ONNX QDQ it stays within
# 0.22 mean / 3 max steps. The graph therefore takes tflite -> onnx -> openvino, sharing the ONNX.
