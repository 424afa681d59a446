"""The `torch` source: a live nn.Module (Python API), a torch.save'd module, or TorchScript.

The Python API passes the module itself in ctx.options["torch_module"]; from the CLI the path is
a file written by torch.save(module) (unpickled with weights_only=False: only open files you
trust, as with any pickle) or by torch.jit.save (TorchScript, which runs without its source).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.convert.graph import ConvertContext, Runner, register_source_runner
from edgephoto.errors import InputFileError, require
from edgephoto.zoo.spec import ModelSpec


def import_torch() -> Any:
    return require("torch", "convert", "PyTorch models")


def load_torch_module(path: Path, ctx: ConvertContext) -> Any:
    """The module in eval mode: ctx.options["torch_module"] if given, else loaded from `path`."""
    torch = import_torch()
    module = ctx.options.get("torch_module")
    if module is None:
        module = _load_file(Path(path), torch)
    if not isinstance(module, torch.nn.Module):
        raise InputFileError(path, f"holds a {type(module).__name__}, not a torch.nn.Module "
                                   "(save the whole module, or TorchScript)")
    return module.eval()


def _load_file(path: Path, torch: Any) -> Any:
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            scripted = any(name.split("/")[1:2] == ["code"] for name in archive.namelist())
    except zipfile.BadZipFile:
        scripted = False  # torch.save's legacy (pre-zip) format, or not a torch file at all
    try:
        if scripted:
            return torch.jit.load(str(path), map_location="cpu")
        return torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # pickle, zip and TorchScript errors come in many types
        raise InputFileError(path, f"torch cannot load it: {str(exc).splitlines()[0][:200]}") from exc


def example_inputs(spec: ModelSpec, seed: int = 0) -> list[np.ndarray]:
    """One array per spec input (dynamic dims: batch 1, others the tile size), for tracing."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in spec.inputs:
        shape = [d if d is not None else (1 if i == 0 else spec.tile.tile)
                 for i, d in enumerate(tensor.shape)]
        if np.dtype(tensor.dtype).kind in "iu":
            arrays.append(rng.integers(0, 256, size=shape).astype(tensor.dtype))
        else:
            arrays.append(rng.random(shape, dtype=np.float32).astype(tensor.dtype))
    return arrays


def outputs_by_name(result: Any, names: list[str]) -> dict[str, np.ndarray]:
    """A module's return value (tensor, tuple/list or dict) as spec-named numpy arrays."""
    if isinstance(result, dict):
        values = [result[n] for n in names] if all(n in result for n in names) else list(result.values())
    elif isinstance(result, list | tuple):
        values = list(result)
    else:
        values = [result]
    return {name: value.detach().cpu().numpy() for name, value in zip(names, values, strict=False)}


@register_source_runner("torch")
def torch_runner(path: Path, ctx: ConvertContext) -> Runner:
    torch = import_torch()
    module = load_torch_module(path, ctx)
    in_names = [t.name for t in ctx.spec.inputs]
    out_names = [t.name for t in ctx.spec.outputs]

    def run(feeds: dict[str, Any]) -> dict[str, Any]:
        args = [torch.from_numpy(np.ascontiguousarray(feeds[name])) for name in in_names]
        with torch.no_grad():
            return outputs_by_name(module(*args), out_names)

    return run
