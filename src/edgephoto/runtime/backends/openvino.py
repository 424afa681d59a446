"""OpenVINO: read an IR (.xml + .bin) or an .onnx, compile for CPU/GPU/NPU from
Core().available_devices.

INFERENCE_PRECISION_HINT is always set (f32 unless asked otherwise): the CPU plugin silently
runs bf16 on CPUs that have it, which moves outputs by ~1e-3. The value the compiled model
reports is recorded in describe().
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import InvalidOptionError, require
from edgephoto.runtime.backends import BACKENDS
from edgephoto.runtime.backends.base import (
    Backend,
    BackendInfo,
    TensorInfo,
    check_threads,
    choose,
    load_failed,
    model_file,
)

PRECISIONS = ("f32", "f16", "bf16")
ORDER = ("gpu", "npu", "cpu")  # auto prefers an accelerator when one is present


def _import() -> Any:
    return require("openvino", "openvino", "the openvino backend")


def available_devices(core: Any) -> dict[str, str]:
    """device -> OpenVINO device name ('GPU.0' style names are folded into their kind)."""
    names = list(core.available_devices)
    found = {}
    for device in ORDER:
        match = [n for n in names if n.split(".")[0] == device.upper()]
        if match:
            found[device] = device.upper() if device.upper() in match else match[0]
    return found


class OpenVINOBackend(Backend):
    def __init__(
        self,
        path: Path,
        *,
        device: str = "auto",
        threads: int | None = None,
        inference_precision: str = "f32",
        fallback: bool = True,
    ) -> None:
        ov = _import()
        self.info, self.path, self.requested_device = INFO, model_file(path), device
        self.threads = check_threads(threads)
        if inference_precision not in PRECISIONS:
            raise InvalidOptionError(
                f"openvino: inference_precision '{inference_precision}' not one of {PRECISIONS}"
            )
        core = ov.Core()
        self.device, self.accelerator = choose("openvino", "device", device,
                                               available_devices(core),
                                               fallback=fallback, default="cpu")
        supported = core.get_property(self.accelerator, "SUPPORTED_PROPERTIES")
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if "INFERENCE_PRECISION_HINT" in supported:
            config["INFERENCE_PRECISION_HINT"] = inference_precision
        if self.threads and "INFERENCE_NUM_THREADS" in supported:
            config["INFERENCE_NUM_THREADS"] = self.threads
        try:
            model = core.read_model(str(self.path))
            self.compiled = core.compile_model(model, self.accelerator, config)
        except Exception as exc:  # RuntimeError from the IR/ONNX frontends
            raise load_failed(self.path, "openvino", exc) from exc
        self.precision_hint = _hint(self.compiled)
        self.request = self.compiled.create_infer_request()
        self._inputs = [_tensor(p) for p in self.compiled.inputs]
        self._outputs = [_tensor(p) for p in self.compiled.outputs]

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self.request.infer(feeds)
        # the request owns its output buffers: copy before the next run overwrites them
        return {t.name: np.array(result[port]) for t, port in
                zip(self._outputs, self.compiled.outputs, strict=True)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "engine_version": _import().get_version()}

    def close(self) -> None:
        self.request = self.compiled = None


def _hint(compiled: Any) -> str | None:
    try:
        value = compiled.get_property("INFERENCE_PRECISION_HINT")
    except RuntimeError:  # a device without the property
        return None
    return str(value.get_type_name()) if hasattr(value, "get_type_name") else str(value)


def _tensor(port: Any) -> TensorInfo:
    dims = tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
    return TensorInfo(port.get_any_name(), dims, np.dtype(port.get_element_type().to_dtype()).name)


def probe() -> dict[str, Any]:
    ov = _import()
    core = ov.Core()
    names = list(core.available_devices)
    details = {}
    for name in names:
        try:
            details[name] = {
                "name": core.get_property(name, "FULL_DEVICE_NAME"),
                "capabilities": list(core.get_property(name, "OPTIMIZATION_CAPABILITIES")),
            }
        except RuntimeError as exc:
            details[name] = {"error": str(exc).splitlines()[0]}
    return {
        "build": ov.get_version(),
        "devices": available_devices(core),
        "accelerators": names,
        "modelled": details,
    }


INFO = BACKENDS.add(
    "openvino",
    BackendInfo(
        name="openvino",
        engine_module="openvino",
        extra="openvino",
        suffixes=(".xml", ".onnx"),
        devices=("cpu", "gpu", "npu"),
        options=("threads", "inference_precision", "fallback"),
        target="openvino",
        exact_options=(("inference_precision", "f32"),),  # bf16 by default on CPUs that have it
        note="INFERENCE_PRECISION_HINT set explicitly (f32 default; CPUs with bf16 default to it)",
        factory=OpenVINOBackend,
        probe=probe,
    ),
)
