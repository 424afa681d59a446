"""The edge into `tflite`: SavedModel via TFLiteConverter (fp32, builtin ops).

ONNX reaches tflite as onnx -> savedmodel (onnx2tf, sources/onnx.py) -> tflite: onnx2tf's own
.tflite comes from the same converter but not always in the spec's layout, and going through
the SavedModel node lets the orchestrator share one onnx2tf run with the other TF-fed targets.

Every edge ends in `finish_tflite`: the graph's input/output tensors and signature keys are
renamed to the spec's names (outputs put in spec order), and ctx.options["metadata"] is embedded
as JSON in a flatbuffer metadata entry named "edgephoto" that LiteRT ignores and keeps loadable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgephoto.convert.graph import ConvertContext, register_edge, register_finalizer
from edgephoto.convert.tflite_ops import read_model, schema, write_model

METADATA_NAME = "edgephoto"


def embed_tflite_metadata(model: Any, metadata: dict[str, str], name: str = METADATA_NAME) -> None:
    """Add (or replace) a metadata entry `name` holding `metadata` as UTF-8 JSON."""
    import numpy as np

    fb = schema()
    payload = json.dumps(metadata, sort_keys=True).encode()
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = fb.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _text(m.name) != name] + [entry]


def read_tflite_metadata(path: Path, name: str = METADATA_NAME) -> dict[str, str] | None:
    """The JSON stored under metadata entry `name`, or None."""
    model = read_model(path)
    for entry in model.metadata or []:
        if _text(entry.name) == name:
            return json.loads(bytes(model.buffers[entry.buffer].data).decode())
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def name_io(model: Any, ctx: ConvertContext) -> dict[str, str]:
    """Rename subgraph 0's inputs/outputs (tensors and signature keys) to the spec's names.

    Matching: signature key or tensor name equal to the spec name (also without a
    'serving_default_' prefix or ':0' suffix), else position. Returns old name -> spec name.
    """
    from edgephoto.convert.edge_tools import match_names

    graph = model.subgraphs[0]
    signature = (model.signatureDefs or [None])[0]
    renames: dict[str, str] = {}
    for spec_tensors, kind in ((ctx.spec.inputs, "inputs"), (ctx.spec.outputs, "outputs")):
        indices = list(getattr(graph, kind))
        keys = {m.tensorIndex: m for m in (getattr(signature, kind) or [])} if signature else {}
        labels = [_text(keys[i].name) if i in keys else _text(graph.tensors[i].name) for i in indices]
        mapping = match_names([t.name for t in spec_tensors], labels)
        chosen = []
        for spec_name, label in mapping.items():
            index = indices[labels.index(label)]
            old = _text(graph.tensors[index].name)
            if old != spec_name:
                renames[old] = spec_name
            graph.tensors[index].name = spec_name.encode()
            if index in keys:
                keys[index].name = spec_name
            chosen.append(index)
        if len(set(chosen)) == len(indices):  # a permutation: put them in spec order
            setattr(graph, kind, chosen)
    return renames


def finish_tflite(path: Path, ctx: ConvertContext, name: str) -> Path:
    """Spec names, metadata, atomic write to ctx.workdir/<name>.tflite."""
    model = read_model(path)
    renames = name_io(model, ctx)
    if renames:
        ctx.notes.append("tflite: renamed I/O " + ", ".join(f"{a} -> {b}" for a, b in renames.items()))
    embed_tflite_metadata(model, dict(ctx.options.get("metadata") or {}))
    out = Path(ctx.workdir) / f"{name}.tflite"
    write_model(model, out)
    from edgephoto.runtime.backends import load_backend

    load_backend("litert", out, device="cpu").close()  # proves LiteRT still loads it (InputFileError otherwise)
    return out


@register_edge("savedmodel", "tflite")
def savedmodel_to_tflite(path: Path, ctx: ConvertContext) -> Path:
    """TFLiteConverter (builtin ops only, fp32) in a child process; an op without a builtin
    raises UnsupportedOpError naming it."""
    from edgephoto.convert.edge_tools import run_converter

    raw = Path(ctx.workdir) / "converter.tflite"
    run_converter("tensorflow.lite.python.tflite_convert",
                  ["--saved_model_dir", str(path), "--output_file", str(raw)], ctx, target="tflite")
    ctx.notes.append("tflite: TFLiteConverter from SavedModel, fp32, builtin ops")
    return finish_tflite(raw, ctx, ctx.spec.name)


@register_finalizer("tflite")
def finalize_tflite(path: Path, ctx: ConvertContext) -> Path:
    """A tflite source shipped as tflite: custom ops rewritten to builtins, names, metadata."""
    from edgephoto.convert.sources.tflite import builtin_tflite

    return finish_tflite(builtin_tflite(path, ctx, "tflite"), ctx, ctx.spec.name)
