"""Edges into `onnx`: savedmodel and tflite via tf2onnx, torch via torch.onnx.export, ncnn built
layer by layer (sources/ncnn.py).

Every edge ends in `finish_onnx`: refuse ops outside the ONNX standard (naming them), rename the
graph's inputs/outputs to the spec's names, embed ctx.options["metadata"] in metadata_props,
check the model and prove onnxruntime loads it. The opset is pinned (17 by default; opset 17
loads everywhere, including onnxruntime-web).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from edgephoto.convert.edge_tools import load_onnx, match_names, run_converter
from edgephoto.convert.edge_tools import unsupported_ops as unsupported_ops  # re-exported: tests
from edgephoto.convert.graph import ConvertContext, register_edge, register_finalizer
from edgephoto.errors import (
    ConversionError,
    UnsupportedOpError,
    require,
)
from edgephoto.files import write_file_atomic

DEFAULT_OPSET = 17
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def _onnx() -> Any:
    return require("onnx", "convert", "ONNX conversion")


def rename_io(model: Any, spec_names: list[str], actual: list[str], ctx: ConvertContext) -> dict[str, str]:
    """Rename graph inputs/outputs `actual` to `spec_names` (same order); returns old -> new."""
    graph = model.graph
    taken = {n for node in graph.node for n in (*node.input, *node.output)}
    taken |= {init.name for init in graph.initializer}
    renames = {}
    for new, old in match_names(spec_names, actual).items():
        if old != new and new not in taken:
            renames[old] = new
        elif old != new:
            ctx.notes.append(f"onnx: kept tensor name {old!r}: {new!r} is used inside the graph")

    def fix(names: Any) -> None:
        for i, name in enumerate(names):
            if name in renames:
                names[i] = renames[name]

    for node in graph.node:
        fix(node.input)
        fix(node.output)
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = renames.get(value.name, value.name)
    return renames


def embed_onnx_metadata(model: Any, metadata: dict[str, str]) -> None:
    """Set metadata_props (a key already present is replaced)."""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in metadata]
    del model.metadata_props[:]
    for key, value in [*keep, *metadata.items()]:
        prop = model.metadata_props.add()
        prop.key, prop.value = str(key), str(value)


def drop_leading_unit_axes(model: Any, ranks: list[int]) -> list[str]:
    """Squeeze graph outputs that carry extra leading size-1 axes beyond the spec's rank.

    Seen on FSRCNN with open H/W, intermittently and only on a loaded machine: tf2onnx kept its
    (1, 1, H, W, 1) Reshape as the output instead of the Squeeze after it. Outputs whose static
    rank is unknown or whose extra axes are not 1 are left alone (parity then says so).
    """
    from onnx import TensorProto, helper

    done = []
    for output, rank in zip(model.graph.output, ranks, strict=False):
        dims = output.type.tensor_type.shape.dim
        extra = len(dims) - rank
        if rank < 1 or extra < 1 or any(d.dim_value != 1 for d in dims[:extra]):
            continue
        inner = f"{output.name}__unsqueezed"
        for node in model.graph.node:
            node.output[:] = [inner if o == output.name else o for o in node.output]
            node.input[:] = [inner if i == output.name else i for i in node.input]
        axes = f"{output.name}__squeeze_axes"
        model.graph.initializer.append(helper.make_tensor(axes, TensorProto.INT64, [extra], list(range(extra))))
        model.graph.node.append(helper.make_node("Squeeze", [inner, axes], [output.name]))
        kept = []
        for dim in dims[extra:]:  # copies: clearing the field invalidates the originals
            copy = type(dim)()
            copy.CopyFrom(dim)
            kept.append(copy)
        output.type.tensor_type.shape.ClearField("dim")
        output.type.tensor_type.shape.dim.extend(kept)
        done.append(output.name)
    return done


def finish_onnx(model: Any, ctx: ConvertContext, name: str, domains: tuple[str, ...] = STANDARD_DOMAINS) -> Path:
    """Fuse PReLU patterns (then rewrite PRelu as convs ORT fuses), check ops, rename I/O to the
    spec, embed metadata, save atomically, load in ORT."""
    onnx = _onnx()
    if ctx.options.get("fuse_prelu", True):  # exact; off only to measure what it saves
        from edgephoto.convert.onnx_passes.fuse_prelu import fuse_prelu

        model, fused = fuse_prelu(model)
        if fused:
            ctx.notes.append(f"onnx: {fused} PReLU patterns fused into PRelu")
    if ctx.options.get("prelu_as_conv", True):  # within float32 ulps; off only to measure what it saves
        from edgephoto.convert.onnx_passes.prelu_as_conv import prelu_as_conv

        model, rewritten = prelu_as_conv(model)
        if rewritten:
            ctx.notes.append(f"onnx: {rewritten} PRelu as depthwise 1x1 convs onnxruntime fuses (NCHWc)")
    for node in model.graph.node:
        if node.domain not in domains or (
            node.domain in STANDARD_DOMAINS and not onnx.defs.has(node.op_type, node.domain)
        ):
            raise UnsupportedOpError(re.sub(r"^TFL_", "", node.op_type), "onnx",
                                     f"node {node.name!r} has no ONNX equivalent")
    squeezed = drop_leading_unit_axes(model, [len(t.shape) for t in ctx.spec.outputs])
    if squeezed:
        ctx.notes.append("onnx: dropped leading unit axes tf2onnx left on " + ", ".join(squeezed))
    renames = rename_io(model, [t.name for t in ctx.spec.inputs],
                        [i.name for i in model.graph.input], ctx)
    renames |= rename_io(model, [t.name for t in ctx.spec.outputs],
                         [o.name for o in model.graph.output], ctx)
    if renames:
        ctx.notes.append("onnx: renamed I/O " + ", ".join(f"{a} -> {b}" for a, b in renames.items()))
    embed_onnx_metadata(model, dict(ctx.options.get("metadata") or {}))
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ConversionError(f"the ONNX model fails onnx.checker: {str(exc)[:300]}") from exc

    def write(tmp: Path) -> None:
        onnx.save(model, str(tmp))
        _check_ort(tmp)  # a model onnxruntime refuses never takes the artifact's name

    return write_file_atomic(Path(ctx.workdir) / f"{name}.onnx", write)


def _check_ort(path: Path) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        return  # parity will say it plainly; the artifact itself is fine
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ConversionError(f"onnxruntime cannot load the converted model: {str(exc)[:300]}") from exc


def _opset(ctx: ConvertContext) -> int:
    return int(ctx.options.get("opset") or DEFAULT_OPSET)


@register_edge("savedmodel", "onnx")
def savedmodel_to_onnx(path: Path, ctx: ConvertContext) -> Path:
    raw = Path(ctx.workdir) / "tf2onnx.onnx"
    run_converter("tf2onnx.convert", ["--saved-model", str(path), "--output", str(raw),
                                      "--opset", str(_opset(ctx))], ctx)
    ctx.notes.append(f"onnx: tf2onnx from SavedModel, opset {_opset(ctx)}")
    return finish_onnx(load_onnx(raw), ctx, ctx.spec.name)


@register_edge("tflite", "onnx")
def tflite_to_onnx(path: Path, ctx: ConvertContext) -> Path:
    """Quantized tflite stays quantized (QuantizeLinear/DequantizeLinear, same integer I/O)."""
    from edgephoto.convert.sources.tflite import builtin_tflite

    builtin = builtin_tflite(path, ctx, "onnx")
    raw = Path(ctx.workdir) / "tf2onnx.onnx"
    run_converter("tf2onnx.convert", ["--tflite", str(builtin), "--output", str(raw),
                                      "--opset", str(_opset(ctx))], ctx)
    ctx.notes.append(f"onnx: tf2onnx from TFLite, opset {_opset(ctx)}")
    return finish_onnx(load_onnx(raw), ctx, ctx.spec.name)


@register_edge("ncnn", "onnx")
def ncnn_to_onnx(path: Path, ctx: ConvertContext) -> Path:
    """The ncnn layer table built as an ONNX graph (sources/ncnn.py), fp16 weights widened."""
    from edgephoto.convert.sources.ncnn import onnx_from_ncnn

    return finish_onnx(onnx_from_ncnn(path, ctx), ctx, ctx.spec.name)


@register_edge("torch", "onnx")
def torch_to_onnx(path: Path, ctx: ConvertContext) -> Path:
    """torch.onnx.export: the dynamo exporter first, the TorchScript one for ScriptModules or
    when dynamo fails; weights inline (external_data=False), opset pinned."""
    from edgephoto.convert.sources.torch import example_inputs, import_torch, load_torch_module

    torch = import_torch()
    module = load_torch_module(path, ctx)
    args = tuple(torch.from_numpy(a) for a in example_inputs(ctx.spec))
    raw = Path(ctx.workdir) / "torch-export.onnx"
    names = {"input_names": [t.name for t in ctx.spec.inputs],
             "output_names": [t.name for t in ctx.spec.outputs]}
    errors = []
    scripted = isinstance(module, torch.jit.ScriptModule)
    for dynamo in ((False,) if scripted else (True, False)):
        try:
            extra = {"external_data": False} if dynamo else {}
            torch.onnx.export(module, args, str(raw), dynamo=dynamo, opset_version=_opset(ctx),
                              verbose=False, **names, **extra)
            ctx.notes.append(f"onnx: torch.onnx.export dynamo={dynamo}, opset {_opset(ctx)}")
            break
        except Exception as exc:  # the exporters raise many kinds; keep the first line of each
            errors.append(f"dynamo={dynamo}: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
    else:
        text = "\n".join(errors)
        ops = unsupported_ops(text)
        if not ops and re.search(r"support|no onnx function", text, re.IGNORECASE):
            ops = re.findall(r"aten(?:::|\.)(\w+)", text)
        if ops:
            raise UnsupportedOpError(f"aten::{ops[0]}", "onnx", "; ".join(errors))
        raise ConversionError("torch.onnx.export failed: " + "; ".join(errors))
    return finish_onnx(load_onnx(raw), ctx, ctx.spec.name)


@register_finalizer("onnx")
def finalize_onnx(path: Path, ctx: ConvertContext) -> Path:
    """An ONNX source shipped as ONNX: same graph, spec names and metadata embedded (its
    onnxruntime contrib ops, if any, are kept: the user's model already relies on them); graph
    outputs the spec does not list are dropped with the nodes only they need."""
    from edgephoto.convert.onnx_passes.prune import keep_outputs

    model = load_onnx(path)
    dropped = keep_outputs(model, [t.name for t in ctx.spec.outputs])
    if dropped:
        ctx.notes.append(f"onnx: outputs the spec does not list dropped: {', '.join(dropped)}")
    return finish_onnx(model, ctx, ctx.spec.name, (*STANDARD_DOMAINS, "com.microsoft"))
