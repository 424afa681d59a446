"""Helpers every edge shares, whichever side of the graph it sits on: running a converter CLI in a
child process, reading an ONNX file, and matching spec tensor names to a model's own.

A leaf below sources and targets: a source that needs them (onnx via onnx2tf) does not reach
into a target module, and a target does not reach into a source module for them.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgephoto.convert.graph import ConvertContext, Runner
from edgephoto.errors import (
    ConversionError,
    InputFileError,
    InvalidOptionError,
    MissingExtraError,
    UnsupportedOpError,
)


def run_converter(module: str, args: list[str], ctx: ConvertContext, cwd: Path | None = None,
                  target: str = "onnx") -> str:
    """Run a converter CLI (`python -m module args`) in a child process; returns its log.

    A child keeps the converter's logging, TF graph state and any sys.exit out of our process.
    A failure naming unsupported ops raises UnsupportedOpError; any other ConversionError.
    """
    import importlib.util

    try:  # the child would only print a traceback: name the missing extra here instead
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        raise MissingExtraError(module, "convert", f"the {target} target")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_USE_LEGACY_KERAS": "1"}
    env.setdefault("OMP_NUM_THREADS", str(ctx.options.get("threads", 2)))
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    log = done.stdout + done.stderr
    ops = unsupported_ops(log)
    if ops:
        raise UnsupportedOpError(ops[0], target, f"{module} could not convert: {', '.join(ops)}")
    if done.returncode != 0:
        tail = [line for line in log.strip().splitlines() if line.strip()][-3:]
        raise ConversionError(f"{module} failed (exit {done.returncode}): " + " | ".join(tail))
    return log


def unsupported_ops(log: str) -> list[str]:
    """Op names a converter reported as unsupported (tf2onnx and TFLiteConverter messages)."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # onnx2tf colours its messages
    found: list[str] = []
    for counter in re.findall(r"Unsupported ops: Counter\((\{.*?\})\)", log):
        try:
            found += list(ast.literal_eval(counter))
        except (ValueError, SyntaxError):
            continue
    found += re.findall(r"op \[[^:\]]+: ([\w.]+)\] is not supported", log)
    found += re.findall(r"'([\w.]+)' op is neither a custom op nor a flex op", log)
    found += re.findall(r"failed to legalize operation '([\w.]+)'", log)
    found += re.findall(r"(\w+) OP is not yet implemented", log)  # onnx2tf
    names = [re.sub(r"^(TFL_|tf\.|tfl\.)", "", op) for op in found]
    return list(dict.fromkeys(names))


def load_onnx(path: Path) -> Any:
    """onnx.load with damaged files reported as InputFileError naming the file."""
    try:
        import onnx
    except ImportError as exc:
        raise MissingExtraError("onnx", "convert", "ONNX conversion") from exc
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, truncated external data, ...
        raise InputFileError(path, f"not a readable ONNX model ({str(exc)[:200]})") from exc


def match_names(wanted: list[str], actual: list[str]) -> dict[str, str]:
    """Spec name -> model tensor name: same name, else the same name without a serving prefix
    or ':0' suffix and with non-word characters as '_', else the same position."""

    def bare(name: str) -> str:
        name = name.split(":")[0].removeprefix("serving_default_")
        return re.sub(r"\W", "_", name)

    mapping = {}
    for index, name in enumerate(wanted):
        hits = [a for a in actual if a == name] or [a for a in actual if bare(a) == bare(name)]
        mapping[name] = hits[0] if hits else actual[min(index, len(actual) - 1)]
    return mapping


def backend_runner(backend_name: str, path: Path, ctx: ConvertContext) -> Runner:
    """Run a model file for parity through the runtime backend users run it with (exact float
    options, CPU, ctx's threads), spec tensor names in and out."""
    import numpy as np

    from edgephoto.runtime.backends import BACKENDS, load_backend

    exact = dict(BACKENDS.get(backend_name).exact_options)
    backend = load_backend(backend_name, path, device="cpu", threads=int(ctx.options.get("threads", 1)), **exact)
    inputs = {t.name: t for t in backend.inputs()}
    in_map = match_names([t.name for t in ctx.spec.inputs], list(inputs))
    out_map = match_names([t.name for t in ctx.spec.outputs], [t.name for t in backend.outputs()])

    def run(feeds: dict[str, Any]) -> dict[str, Any]:
        try:
            result = backend.run({in_map[k]: np.asarray(v, dtype=inputs[in_map[k]].dtype) for k, v in feeds.items()})
        except InvalidOptionError as exc:  # the file declares inputs its own spec contradicts
            raise ConversionError(f"{path.name}: {exc}") from None
        return {name: result[real] for name, real in out_map.items()}

    return run
