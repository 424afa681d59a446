"""Core ML (.mlpackage / .mlmodel) through coremltools' MLModel: macOS only.

coremltools is imported only on darwin, inside the factory, so the light runtime never pulls
it in. The device is a compute-units choice (cpu -> CPU_ONLY, gpu -> CPU_AND_GPU,
npu -> CPU_AND_NE, auto -> ALL); Core ML decides per layer and does not report what it used,
so describe() records the compute units asked for. Core ML has no thread count option.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import DeviceError, InvalidOptionError, require
from edgephoto.runtime.backends import BACKENDS
from edgephoto.runtime.backends.base import (
    Backend,
    BackendInfo,
    TensorInfo,
    load_failed,
    model_file,
)

COMPUTE_UNITS = {"auto": "ALL", "cpu": "CPU_ONLY", "gpu": "CPU_AND_GPU", "npu": "CPU_AND_NE"}
_ARRAY_DTYPES = {65568: "float32", 65552: "float16", 65600: "float64", 131104: "int32"}


def _require_macos() -> None:
    if sys.platform != "darwin":
        raise DeviceError(
            f"Core ML runs on macOS only (this is {sys.platform}); use the onnxruntime, litert "
            "or openvino backend here"
        )


def _import() -> Any:
    _require_macos()
    return require("coremltools", "convert", "the coreml backend")


class CoreMLBackend(Backend):
    def __init__(
        self,
        path: Path,
        *,
        device: str = "auto",
        compute_units: str | None = None,
        fallback: bool = True,
    ) -> None:
        ct = _import()
        self.info, self.path, self.requested_device = INFO, model_file(path), device
        units = (compute_units or COMPUTE_UNITS[device]).upper()
        if units not in COMPUTE_UNITS.values():
            raise InvalidOptionError(
                f"coreml: compute_units '{compute_units}' not one of {sorted(COMPUTE_UNITS.values())}"
            )
        self.accelerator = units
        self.device = {v: k for k, v in COMPUTE_UNITS.items()}[units]
        try:
            self.model = ct.models.MLModel(str(self.path), compute_units=ct.ComputeUnit[units])
        except Exception as exc:
            raise load_failed(self.path, "coremltools", exc) from exc
        description = self.model.get_spec().description
        self._inputs = [_tensor(f) for f in description.input]
        self._outputs = [_tensor(f) for f in description.output]

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from PIL import Image

        images = {f.name for f in self.model.get_spec().description.input
                  if f.type.WhichOneof("Type") == "imageType"}
        result = self.model.predict(
            {k: Image.fromarray(v[0]) if k in images else v for k, v in feeds.items()}
        )
        return {t.name: np.asarray(result[t.name]) for t in self._outputs}

    def supports_batch(self) -> bool:
        return False  # flexible shapes are declared per model; edgephoto exports fixed batch 1

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "compute_units": self.accelerator}

    def close(self) -> None:
        self.model = None


def _tensor(feature: Any) -> TensorInfo:
    kind = feature.type.WhichOneof("Type")
    if kind == "multiArrayType":
        array = feature.type.multiArrayType
        return TensorInfo(feature.name, tuple(int(d) for d in array.shape),
                          _ARRAY_DTYPES.get(array.dataType, "float32"))
    if kind == "imageType":
        image = feature.type.imageType
        return TensorInfo(feature.name, (1, int(image.height), int(image.width), 3), "uint8")
    return TensorInfo(feature.name, (), "float32")


def probe() -> dict[str, Any]:
    _require_macos()
    from importlib.metadata import version

    return {
        "version": version("coremltools"),
        "devices": {"npu": "CPU_AND_NE", "gpu": "CPU_AND_GPU", "cpu": "CPU_ONLY"},
        "accelerators": sorted(COMPUTE_UNITS.values()),
        "modelled": dict(COMPUTE_UNITS),
    }


INFO = BACKENDS.add(
    "coreml",
    BackendInfo(
        name="coreml",
        engine_module="coremltools",
        extra="convert",
        suffixes=(".mlpackage", ".mlmodel"),
        devices=("cpu", "gpu", "npu"),
        platforms=("darwin",),
        options=("compute_units", "fallback"),
        target="coreml",
        note="macOS only; device = compute units; Core ML does not report the unit it used",
        factory=CoreMLBackend,
        probe=probe,
    ),
)
