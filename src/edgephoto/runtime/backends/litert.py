"""LiteRT (ai-edge-litert; tflite-runtime on legacy 32-bit ARM boards): one Interpreter.

XNNPACK is the CPU default (the interpreter applies it itself). GPU, NNAPI, EdgeTPU and QNN
(Hexagon) are delegates loaded with `load_delegate` from the platform's shared library; none
ships in the Linux wheel, so they are probed (dlopen first, so a missing library costs no
engine noise) and a missing one falls back to XNNPACK with a warning or raises DeviceError.
"""

from __future__ import annotations

import ctypes
import sys
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

# delegate -> (device, shared library per platform)
DELEGATES: dict[str, tuple[str, dict[str, str]]] = {
    "gpu": ("gpu", {"linux": "libtensorflowlite_gpu_delegate.so",
                    "darwin": "libtensorflowlite_gpu_delegate.dylib",
                    "win32": "tensorflowlite_gpu_delegate.dll"}),
    "qnn": ("npu", {"linux": "libQnnTFLiteDelegate.so", "win32": "QnnTFLiteDelegate.dll"}),
    "edgetpu": ("npu", {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib",
                        "win32": "edgetpu.dll"}),
    "nnapi": ("npu", {"linux": "libnnapi_delegate.so"}),  # Android only in practice
}
ALIASES = {"hexagon": "qnn", "coral": "edgetpu"}
CPU_DELEGATES = ("xnnpack", "none")  # built in: XNNPACK, or the plain reference kernels


def _import() -> tuple[Any, str]:
    """The Interpreter module and its distribution name."""
    interpreter = require("ai_edge_litert.interpreter", "litert", "the litert backend",
                          alternatives=("tflite_runtime.interpreter",))  # legacy armv7l boards
    return interpreter, interpreter.__name__.split(".")[0].replace("_", "-")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def delegate_library(name: str) -> str | None:
    return DELEGATES[name][1].get(sys.platform)


def probe_delegates() -> dict[str, str]:
    """delegate -> 'ok' or why it is unavailable (dlopen error)."""
    found = {"xnnpack": "ok (built in)"}
    for name in DELEGATES:
        library = delegate_library(name)
        if library is None:
            found[name] = f"no library for {sys.platform}"
            continue
        try:
            ctypes.CDLL(library)
            found[name] = f"ok ({library})"
        except OSError as exc:
            found[name] = f"missing: {exc}"
    return found


def available_delegates() -> dict[str, str]:
    """delegate -> device for the delegates whose library loads, accelerators first."""
    found = {n: DELEGATES[n][0] for n, state in probe_delegates().items()
             if state.startswith("ok") and n in DELEGATES}
    return {**found, "xnnpack": "cpu"}


def by_device(delegates: dict[str, str]) -> dict[str, str]:
    """device -> its preferred available delegate (accelerators before cpu)."""
    found: dict[str, str] = {}
    for name, dev in delegates.items():
        found.setdefault(dev, name)
    return found


class LiteRTBackend(Backend):
    def __init__(
        self,
        path: Path,
        *,
        device: str = "auto",
        threads: int | None = None,
        delegate: str | None = None,
        fallback: bool = True,
    ) -> None:
        module, self.dist = _import()
        self.info, self.path, self.requested_device = INFO, model_file(path), device
        self.threads = check_threads(threads)
        delegates = available_delegates()
        if delegate is not None:
            wanted = ALIASES.get(delegate, delegate)
            known = (*DELEGATES, *CPU_DELEGATES)
            if wanted not in known:
                raise InvalidOptionError(f"unknown delegate '{delegate}'. Valid: {', '.join(known)}")
            if wanted == "none":
                chosen = "none"
            else:
                chosen, _ = choose("litert", "delegate", wanted, delegates,
                                   fallback=fallback, default="xnnpack")
            self.device = DELEGATES[chosen][0] if chosen in DELEGATES else "cpu"
        else:
            self.device, chosen = choose("litert", "device", device, by_device(delegates),
                                         fallback=fallback, default="cpu")
        self.accelerator = chosen
        kwargs: dict[str, Any] = {"model_path": str(self.path), "num_threads": self.threads}
        if chosen in DELEGATES:
            kwargs["experimental_delegates"] = [module.load_delegate(delegate_library(chosen))]
        elif chosen == "none" and hasattr(module, "OpResolverType"):
            kwargs["experimental_op_resolver_type"] = (
                module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        try:
            self.interpreter = module.Interpreter(**kwargs)
            self.interpreter.allocate_tensors()
        except Exception as exc:  # ValueError/RuntimeError from the flatbuffer loader
            raise load_failed(self.path, self.dist, exc) from exc
        self._in = self.interpreter.get_input_details()
        self._out = self.interpreter.get_output_details()

    def inputs(self) -> list[TensorInfo]:
        return [_tensor(d) for d in self._in]

    def outputs(self) -> list[TensorInfo]:
        return [_tensor(d) for d in self._out]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        interp = self.interpreter
        resized = False
        for detail in self._in:
            shape = feeds[detail["name"]].shape
            if tuple(detail["shape"]) != shape:  # a dynamic axis took a new size
                interp.resize_tensor_input(detail["index"], list(shape), strict=True)
                resized = True
        if resized:
            interp.allocate_tensors()
            self._in = interp.get_input_details()
            self._out = interp.get_output_details()
        for detail in self._in:
            interp.set_tensor(detail["index"], feeds[detail["name"]])
        interp.invoke()
        return {d["name"]: interp.get_tensor(d["index"]) for d in self._out}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "delegate": self.accelerator,
                "engine": self.dist, "engine_version": _version(self.dist)}

    def close(self) -> None:
        self.interpreter = None


def _tensor(detail: dict[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature", detail["shape"])
    shape = tuple(int(d) if d >= 0 else None for d in signature)
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail.get("quantization", (0.0, 0))
    quantized = dtype.kind in "iu" and scale != 0.0  # LiteRT gives (0.0, 0) for unquantized tensors
    return TensorInfo(detail["name"], shape, dtype.name,
                      quantization=(float(scale), int(zero)) if quantized else None)


def probe() -> dict[str, Any]:
    _, dist = _import()
    delegates = probe_delegates()
    return {
        "version": _version(dist),
        "distribution": dist,
        "devices": by_device(available_delegates()),
        "accelerators": [n for n, state in delegates.items() if state.startswith("ok")],
        "modelled": delegates,
    }


INFO = BACKENDS.add(
    "litert",
    BackendInfo(
        name="litert",
        engine_module="ai_edge_litert",
        extra="litert",
        suffixes=(".tflite",),
        devices=("cpu", "gpu", "npu"),
        options=("threads", "delegate", "fallback"),
        target="tflite",
        note="XNNPACK by default; gpu/nnapi/edgetpu/qnn delegates via load_delegate; "
             "tflite_runtime when only that is installed",
        factory=LiteRTBackend,
        probe=probe,
    ),
)
