"""The `tflite` source: load (custom ops rewritten to builtins) and run with LiteRT for parity.

Edges out of tflite live with their targets (targets/onnx.py: tflite -> onnx). What every one of
them needs first is a builtin-only copy of the model, made here once per context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.edge_tools import match_names
from edgephoto.convert.graph import ConvertContext, Runner, register_source_runner
from edgephoto.errors import InputFileError, require


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


def litert_interpreter(path: Path, threads: int = 1) -> Any:
    """A LiteRT interpreter with tensors allocated, or InputFileError if the file is damaged."""
    Interpreter = require("ai_edge_litert.interpreter", "runtime", "running .tflite models").Interpreter
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise InputFileError(path, f"LiteRT cannot load it: {str(exc).strip()[:300]}") from exc
    return interpreter


@register_source_runner("tflite")
def tflite_runner(path: Path, ctx: ConvertContext) -> Runner:
    model = builtin_tflite(path, ctx, "litert")
    interpreter = litert_interpreter(model, int(ctx.options.get("threads", 1)))
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    outputs = {d["name"]: d for d in interpreter.get_output_details()}
    in_map = match_names([t.name for t in ctx.spec.inputs], list(inputs))
    out_map = match_names([t.name for t in ctx.spec.outputs], list(outputs))

    def run(feeds: dict[str, Any]) -> dict[str, Any]:
        for name, value in feeds.items():
            detail = inputs[in_map[name]]
            interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        interpreter.invoke()
        return {name: interpreter.get_tensor(outputs[real]["index"]).copy()
                for name, real in out_map.items()}

    return run
