"""Backends by name. Each is one file; its engine is imported only when the backend is loaded."""

from __future__ import annotations

from edgephoto.registry import Registry
from edgephoto.runtime.backends.base import Backend, BackendInfo, TensorInfo, load_backend

BACKENDS: Registry[BackendInfo] = Registry(
    "backend",
    modules=(
        "edgephoto.runtime.backends.onnxruntime",
        "edgephoto.runtime.backends.litert",
        "edgephoto.runtime.backends.openvino",
        "edgephoto.runtime.backends.coreml",
        "edgephoto.runtime.backends.reference",
        "edgephoto.runtime.backends.null",
    ),
)

__all__ = ["BACKENDS", "Backend", "BackendInfo", "TensorInfo", "load_backend"]
