"""The `tflite` source: load (custom ops rewritten to builtins) and run with LiteRT for parity.

Edges out of tflite live with their targets (targets/onnx.py: tflite -> onnx). What every one of
them needs first is a builtin-only copy of the model, made here once per context.
"""

from __future__ import annotations

from pathlib import Path

from edgephoto.convert.edge_tools import backend_runner
from edgephoto.convert.graph import ConvertContext, Runner, register_source_runner


def builtin_tflite(path: Path, ctx: ConvertContext, target: str) -> Path:
    """`path` with every custom op rewritten to builtin ops (a copy in ctx.workdir if needed).

    Raises InputFileError for a damaged file and UnsupportedOpError (naming the op and
    `target`) for a custom op with no registered rewrite.
    """
    from edgephoto.convert.tflite_ops import builtin_copy

    out = Path(ctx.workdir) / f"{Path(path).stem}.builtin.tflite"
    used, rewritten = builtin_copy(Path(path), out, target)
    for op in sorted(set(rewritten)):
        count = rewritten.count(op)
        ctx.notes.append(f"tflite: rewrote {count} custom op(s) {op} to builtin ops")
    return used


@register_source_runner("tflite")
def tflite_runner(path: Path, ctx: ConvertContext) -> Runner:
    """The builtin-only copy, run by the runtime's litert backend."""
    return backend_runner("litert", builtin_tflite(path, ctx, "litert"), ctx)
