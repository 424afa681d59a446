"""The backend interface: load an artifact for a device, run named arrays to named arrays, close.

A backend knows no task. Capabilities are data (BackendInfo) so the CLI, validation and docs
read one table.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is and accepts. `factory` builds the Backend (imports the engine lazily)."""

    name: str
    engine_module: str  # the Python module of the engine, e.g. "onnxruntime"
    extra: str  # the pip extra that installs it
    suffixes: tuple[str, ...]  # artifact files it loads (".onnx", ".tflite", ".xml", ...)
    devices: tuple[str, ...]  # devices it can model: cpu, gpu, npu
    platforms: tuple[str, ...] = ("linux", "darwin", "win32")
    options: tuple[str, ...] = ()  # backend options it accepts (threads, delegate, ...)
    factory: Callable[..., Backend] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | None, ...]
    dtype: str


class Backend(abc.ABC):
    """One loaded model on one device."""

    info: BackendInfo
    device: str  # the device actually used (after any fallback)

    @abc.abstractmethod
    def inputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def outputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None:
        """Release engine resources (default: nothing to do)."""

    def describe(self) -> dict[str, Any]:
        """Backend, device actually used and engine options, recorded in every result."""
        return {"backend": self.info.name, "device": self.device}

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_backend(name: str, path: str | Path, *, device: str = "cpu", **options: Any) -> Backend:
    """Load `path` with the named backend on `device`."""
    from edgephoto.runtime.backends import BACKENDS

    info = BACKENDS.get(name)
    assert info.factory is not None, f"backend {name} has no factory"
    return info.factory(Path(path), device=device, **options)
