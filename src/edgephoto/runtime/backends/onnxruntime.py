"""ONNX Runtime: one session; the device is an execution provider from get_available_providers().

CPU is always there; CUDA/ROCm/DirectML/CoreML/OpenVINO/QNN/NNAPI providers are modelled and
picked when the installed wheel has them. The CPU provider stays last in the list so ops an
accelerator refuses still run; `session.get_providers()` (what ORT really used) is recorded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto.errors import DeviceError, require
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

# device -> execution providers that run on it, in preference order
DEVICE_PROVIDERS: dict[str, tuple[str, ...]] = {
    "gpu": (
        "CUDAExecutionProvider",
        "ROCMExecutionProvider",
        "DmlExecutionProvider",
        "CoreMLExecutionProvider",
        "OpenVINOExecutionProvider",
    ),
    "npu": (
        "QNNExecutionProvider",
        "CoreMLExecutionProvider",
        "NNAPIExecutionProvider",
        "OpenVINOExecutionProvider",
        "VitisAIExecutionProvider",
    ),
    "cpu": ("CPUExecutionProvider", "XNNPACKExecutionProvider"),
}
# short names accepted by the `provider` option
SHORT = {
    name.removesuffix("ExecutionProvider").lower(): name
    for names in DEVICE_PROVIDERS.values()
    for name in names
}
_DTYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int16)": "int16",
    "tensor(uint16)": "uint16", "tensor(int32)": "int32", "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def _provider_options(provider: str, device: str) -> dict[str, str]:
    """What each accelerator provider needs to target the device we asked for."""
    if provider == "OpenVINOExecutionProvider":
        return {"device_type": device.upper()}
    if provider == "CoreMLExecutionProvider":
        return {"MLComputeUnits": {"gpu": "CPUAndGPU", "npu": "CPUAndNeuralEngine"}.get(device, "ALL")}
    if provider == "QNNExecutionProvider":
        return {"backend_path": "QnnHtp.dll" if sys.platform == "win32" else "libQnnHtp.so"}
    return {}


def _import() -> Any:
    return require("onnxruntime", "onnxruntime", "the onnxruntime backend")


def available_devices(ort: Any) -> dict[str, str]:
    """device -> the best provider this onnxruntime build has for it (gpu, npu, then cpu)."""
    have = ort.get_available_providers()
    found = {}
    for device, providers in DEVICE_PROVIDERS.items():
        for provider in providers:
            if provider in have:
                found[device] = provider
                break
    return found


class OnnxRuntimeBackend(Backend):
    def __init__(
        self,
        path: Path,
        *,
        device: str = "auto",
        threads: int | None = None,
        provider: str | None = None,
        fallback: bool = True,
    ) -> None:
        ort = _import()
        self.info, self.path, self.requested_device = INFO, model_file(path), device
        self.threads = check_threads(threads)
        available = available_devices(ort)
        if provider is not None:  # an explicit provider wins over the device table
            wanted = SHORT.get(provider.lower(), provider)
            by_name = {p: p for p in ort.get_available_providers() if p != "AzureExecutionProvider"}
            _, chosen = choose("onnxruntime", "provider", wanted, by_name,
                               fallback=fallback, default="CPUExecutionProvider")
            self.device = next((d for d, ps in DEVICE_PROVIDERS.items() if chosen in ps), "cpu")
            if device not in ("auto", self.device) and not fallback:
                raise DeviceError(f"onnxruntime: provider {chosen} does not run on device '{device}'")
        else:
            self.device, chosen = choose("onnxruntime", "device", device, available,
                                         fallback=fallback, default="cpu")
        providers: list[Any] = [(chosen, _provider_options(chosen, self.device))]
        if chosen != "CPUExecutionProvider":
            providers.append("CPUExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # engine chatter is not ours to print
        # ORT's memory pattern plans one arena block per input shape it sees: for open-H/W models
        # (FSRCNN tiles, whole photos of every size) that more than doubled peak memory (fsrcnn-x2,
        # one 624x624 tile: 869 MB peak RSS on, 396 MB off) and re-planned on each new size; for
        # fixed-shape models it bought no time (selfie 3.10 vs 3.06 ms, esrgan-slim 83.5 vs 83.3)
        options.enable_mem_pattern = False
        if self.threads:
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # ORT raises its own pybind classes for bad protobufs
            raise load_failed(self.path, "onnxruntime", exc) from exc
        self.providers = list(self.session.get_providers())
        self.accelerator = self.providers[0]
        if self.accelerator != chosen:  # ORT dropped the provider at session creation
            choose("onnxruntime", "provider", chosen, {self.accelerator: self.accelerator},
                   fallback=fallback, default=self.accelerator)
            self.device = "cpu"
        self._inputs = [_tensor(v) for v in self.session.get_inputs()]
        self._outputs = [_tensor(v) for v in self.session.get_outputs()]

    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [t.name for t in self._outputs]
        return dict(zip(names, self.session.run(names, feeds), strict=True))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "providers": self.providers,
                "engine_version": _import().__version__}

    def close(self) -> None:
        self.session = None


def _tensor(value: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in value.shape)
    return TensorInfo(value.name, shape, _DTYPES.get(value.type, value.type))


def probe() -> dict[str, Any]:
    ort = _import()
    return {
        "version": ort.__version__,
        "devices": available_devices(ort),
        "accelerators": ort.get_available_providers(),
        "modelled": sorted({p for ps in DEVICE_PROVIDERS.values() for p in ps}),
    }


INFO = BACKENDS.add(
    "onnxruntime",
    BackendInfo(
        name="onnxruntime",
        engine_module="onnxruntime",
        extra="onnxruntime",
        suffixes=(".onnx",),
        devices=("cpu", "gpu", "npu"),
        options=("threads", "provider", "fallback"),
        target="onnx",
        note="device = execution provider from get_available_providers(); CPU provider kept last",
        factory=OnnxRuntimeBackend,
        probe=probe,
    ),
)
