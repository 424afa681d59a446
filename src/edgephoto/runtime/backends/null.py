"""Null backend: zeros of the declared output shapes and dtypes, from the artifact's manifest.

For measuring pipeline overhead and testing plumbing with no engine and no model maths. An
output axis the manifest leaves open (None, -1 or a name) takes its size from the first input:
the batch axis as is, the spatial axes times the manifest's `scale`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import InvalidOptionError
from edgephoto.manifest import read_manifest
from edgephoto.runtime.backends import BACKENDS
from edgephoto.runtime.backends.base import Backend, BackendInfo, TensorInfo, choose

_SPATIAL = {"NCHW": (2, 3), "NHWC": (1, 2), "HWC": (0, 1), "CHW": (1, 2)}


def _tensor(entry: dict[str, Any]) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in entry["shape"])
    return TensorInfo(entry["name"], shape, np.dtype(entry.get("dtype", "float32")).name)


class NullBackend(Backend):
    def __init__(self, path: Path, *, device: str = "auto", fallback: bool = True) -> None:
        self.info, self.path, self.requested_device = INFO, path, device
        self.device, self.accelerator = choose("null", "device", device, {"cpu": "none"},
                                               fallback=fallback, default="cpu")
        manifest = read_manifest(path)
        self._inputs = [_tensor(e) for e in manifest.get("inputs", [])]
        self._outputs = [_tensor(e) for e in manifest.get("outputs", [])]
        self._layouts = [e.get("layout") for e in manifest.get("outputs", [])]
        first_input = (manifest.get("inputs") or [{}])[0]
        self._in_spatial = _SPATIAL.get(first_input.get("layout") or "", ())
        self.scale = manifest.get("scale") or 1

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        first = self._inputs[0] if self._inputs else None
        like = feeds[first.name].shape if first else ()
        result = {}
        for spec, layout in zip(self._outputs, self._layouts, strict=True):
            spatial = _SPATIAL.get(layout or "", ())
            shape = []
            for axis, size in enumerate(spec.shape):
                if size is None:
                    size = self._open_axis(spec, axis, like, spatial)
                shape.append(size)
            result[spec.name] = np.zeros(shape, dtype=spec.dtype)
        return result

    def _open_axis(self, spec: TensorInfo, axis: int, like: tuple[int, ...],
                   spatial: tuple[int, ...]) -> int:
        in_spatial = self._in_spatial
        if axis == 0 and like:
            return like[0]
        if axis in spatial and len(in_spatial) == len(spatial):
            return int(like[in_spatial[spatial.index(axis)]] * self.scale)
        raise InvalidOptionError(
            f"null: output '{spec.name}' axis {axis} is open and cannot be derived from the "
            "input; declare it in the manifest"
        )


INFO = BACKENDS.add(
    "null",
    BackendInfo(
        name="null",
        engine_module="numpy",
        extra="",
        suffixes=(),
        devices=("cpu",),
        options=("fallback",),
        note="zeros of the manifest's output shapes: pipeline overhead and plumbing tests",
        factory=NullBackend,
        probe=lambda: {"devices": {"cpu": "none"},
                       "accelerators": [], "modelled": {}},
    ),
)
