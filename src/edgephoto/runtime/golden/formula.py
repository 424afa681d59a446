"""The fixed parts the golden vectors are built from: array encoding and deterministic models.

Ports of the runtime (web_demo/ in JavaScript, android_demo/ in Kotlin) check themselves against
JSON files this package writes. Arrays are encoded flat, row-major, with their shape and dtype;
float32 values as the shortest decimal that parses back to the same float32. The "models" here
are closed formulas (documented in golden_vectors/README.md) so a port can recompute every tile
output without an inference engine: the vectors then test the code around the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.runtime.backends.base import Backend, BackendInfo, TensorInfo

INFO = BackendInfo(name="golden-formula", engine_module="numpy", extra="", suffixes=(), devices=("cpu",),
                   note="closed-form stand-in model for the golden vectors (not registered)")


def f32(value: float) -> float:
    """A float32 as the shortest decimal that reads back to it (JSON stays small and exact)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def encode(array: np.ndarray) -> dict[str, Any]:
    """{"dtype", "shape", "data"}: row-major values; float arrays as float32."""
    values = np.asarray(array)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    if values.dtype.kind == "f":
        flat = values.astype(np.float32).ravel()
        return {"dtype": "float32", "shape": list(values.shape), "data": [f32(float(v)) for v in flat]}
    return {"dtype": values.dtype.name, "shape": list(values.shape), "data": [int(v) for v in values.ravel()]}


def tile_output(index: int, height: int, width: int, channels: int) -> np.ndarray:
    """The fixed output of tile `index` (row-major order in the plan), (height, width, channels):
    ((31*index + 7*i + 3*j + 11*c) mod 23) / 22 in float32."""
    i, j, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(channels), indexing="ij")
    return (((31 * index + 7 * i + 3 * j + 11 * c) % 23) / 22.0).astype(np.float32)


class FormulaBackend(Backend):
    """A 'model' that is a formula of its NHWC input x (float32, after normalisation), so depth,
    segmentation and upscale can run end to end through the runtime's task functions:

    - kind 'depth':   out[n,i,j,0] = 1 + mean_c(x[n,i,j,:]) + 0.05*i - 0.03*j   (same size)
    - kind 'upscale': out[n,i,j,c] = 0.9*x[n, i//s, j//s, c] + 0.02*((i + 2*j) mod 5)   (s x size)
    - kind 'segment': out[n,i,j,0] = mean_c(x[n,i,j,:])   (same size: a bright pixel is 'person')
    """

    def __init__(self, kind: str, inputs: list[TensorInfo], outputs: list[TensorInfo], scale: int = 1) -> None:
        self.info, self.path, self.kind, self.scale = INFO, Path("formula"), kind, scale
        self._inputs, self._outputs = inputs, outputs

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = feeds[self._inputs[0].name].astype(np.float32)
        _, h, w, _ = x.shape
        i = np.arange(h * self.scale, dtype=np.float32)[:, None]
        j = np.arange(w * self.scale, dtype=np.float32)[None, :]
        if self.kind == "segment":
            return {self._outputs[0].name: x.mean(axis=-1, keepdims=True).astype(np.float32)}
        if self.kind == "depth":
            out = 1.0 + x.mean(axis=-1) + np.float32(0.05) * i - np.float32(0.03) * j
            return {self._outputs[0].name: out[..., None].astype(np.float32)}
        up = x.repeat(self.scale, axis=1).repeat(self.scale, axis=2)
        ramp = (np.float32(0.02) * ((i + 2 * j) % 5))[None, :, :, None]
        return {self._outputs[0].name: (np.float32(0.9) * up + ramp).astype(np.float32)}
