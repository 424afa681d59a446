"""The backend interface: load an artifact for a device, run named arrays to named arrays, close.

A backend knows no task. Capabilities are data (BackendInfo) so the CLI, validation and docs
read one table. Checks every backend needs (device names, options, feed names/shapes/dtypes,
device fallback) live here once, so a backend file only talks to its engine.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edgephoto.errors import (
    DeviceError,
    EdgePhotoWarning,
    InputFileError,
    InvalidOptionError,
    did_you_mean,
)
from edgephoto.registry import Registry

DEVICES = ("auto", "cpu", "gpu", "npu")
V = TypeVar("V")


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is and accepts. `factory` builds the Backend (imports the engine lazily);
    `probe` reports what this machine offers the engine (version, devices, accelerators)."""

    name: str
    engine_module: str  # the Python module of the engine, e.g. "onnxruntime"
    extra: str  # the pip extra that installs it ("" when nothing beyond the base install)
    suffixes: tuple[str, ...]  # artifact files it loads (".onnx", ".tflite", ".xml", ...); () = any
    devices: tuple[str, ...]  # devices it can model: cpu, gpu, npu
    platforms: tuple[str, ...] = ("linux", "darwin", "win32")
    options: tuple[str, ...] = ()  # backend options it accepts (threads, delegate, ...)
    target: str | None = None  # the converter target whose artifacts it runs by default
    # options that make it compute the model's float32 semantics exactly (parity, accuracy)
    exact_options: tuple[tuple[str, str], ...] = ()
    note: str = ""
    factory: Callable[..., Backend] | None = field(default=None, compare=False, repr=False)
    probe: Callable[[], dict[str, Any]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | None, ...]  # None: any size on that axis
    dtype: str  # numpy dtype name
    # (scale, zero_point) of an integer tensor as the engine reports it: real = (q - zero) * scale.
    # The one place these are read from an artifact; the manifest records what this gave.
    quantization: tuple[float, int] | None = None


class Backend(abc.ABC):
    """One loaded model on one device. Subclasses set the attributes below and implement
    `inputs`, `outputs` and `_run`; `run` checks the feeds first."""

    info: BackendInfo
    path: Path
    requested_device: str = "auto"
    device: str = "cpu"  # the device actually used (after any fallback)
    accelerator: str = ""  # execution provider / delegate / engine device actually used
    threads: int | None = None  # None: the engine's default
    precision_hint: str | None = None
    # why this engine runs the model (set by whoever chose it: artifact.load_artifact, api.load)
    reason: str = ""

    @abc.abstractmethod
    def inputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def outputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Named inputs -> named outputs. Wrong names, shapes or dtypes raise InvalidOptionError."""
        return self._run(check_feeds(self.inputs(), feeds))

    def supports_batch(self) -> bool:
        """Whether the leading dimension of every input may be > 1 for this model."""
        return all(t.shape and t.shape[0] is None for t in self.inputs())

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release engine resources (default: nothing to do)."""

    def describe(self) -> dict[str, Any]:
        """Backend, requested and used device and engine options, recorded in every result."""
        return {
            "backend": self.info.name,
            "requested_device": self.requested_device,
            "device": self.device,
            "accelerator": self.accelerator,
            "threads": self.threads,
            "precision_hint": self.precision_hint,
            "backend_reason": self.reason,
            "batch": self.supports_batch(),
            "model": str(self.path),
        }

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_feeds(inputs: list[TensorInfo], feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Refuse missing/unknown names and wrong shapes or dtypes, naming the tensor and what it
    expects; engines otherwise fail with messages about internal buffers (or not at all)."""
    expected = {t.name: t for t in inputs}
    unknown = sorted(set(feeds) - set(expected))
    if unknown:
        hint = did_you_mean(unknown[0], expected)
        raise InvalidOptionError(
            f"unknown input '{unknown[0]}'.{hint} Inputs: {', '.join(expected)}"
        )
    checked = {}
    for name, spec in expected.items():
        if name not in feeds:
            raise InvalidOptionError(
                f"missing input '{name}' (expected shape {_shape(spec.shape)} {spec.dtype})"
            )
        array = np.asarray(feeds[name])
        fits = len(array.shape) == len(spec.shape) and all(
            want is None or want == got for want, got in zip(spec.shape, array.shape, strict=True)
        )
        if not fits or array.dtype != np.dtype(spec.dtype):
            raise InvalidOptionError(
                f"input '{name}': expected shape {_shape(spec.shape)} {spec.dtype}, "
                f"got {_shape(array.shape)} {array.dtype}"
            )
        checked[name] = array
    return checked


def _shape(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def choose(
    backend: str,
    kind: str,
    requested: str,
    available: Mapping[str, V],
    *,
    fallback: bool,
    default: str,
) -> tuple[str, V]:
    """Pick `requested` from `available` (ordered by preference; "auto" takes the first).

    A missing one raises DeviceError listing what exists when `fallback` is False; otherwise
    it warns (EdgePhotoWarning) and takes `default`. Never silent: the caller records the pick.
    """
    if requested == "auto":
        name = next(iter(available))
        return name, available[name]
    if requested in available:
        return requested, available[requested]
    present = ", ".join(f"{k} ({v})" if v and v != k else k for k, v in available.items())
    if not fallback:
        raise DeviceError(
            f"{backend}: {kind} '{requested}' is not available on this machine; available: "
            f"{present or 'none'} (see `edgephoto doctor`)"
        )
    warnings.warn(
        f"{backend}: {kind} '{requested}' is not available (available: {present}); "
        f"falling back to {kind} '{default}'",
        EdgePhotoWarning,
        stacklevel=3,
    )
    return default, available[default]


def check_device(device: str) -> None:
    if device not in DEVICES:
        hint = did_you_mean(device, DEVICES)
        raise InvalidOptionError(f"unknown device '{device}'.{hint} Valid: {', '.join(DEVICES)}")


def check_options(info: BackendInfo, options: Mapping[str, Any]) -> None:
    """Refuse options the backend does not accept, suggesting the nearest valid one."""
    for option in options:
        if option not in info.options:
            hint = did_you_mean(option, info.options)
            valid = ", ".join(info.options) or "none"
            raise InvalidOptionError(
                f"backend '{info.name}' does not accept option '{option}'.{hint} Valid: {valid}"
            )


def check_threads(threads: int | None) -> int | None:
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InvalidOptionError(f"threads must be a positive integer, got {threads!r}")
    return threads


def model_file(path: Path) -> Path:
    """The model path, or InputFileError if it does not exist."""
    if not path.exists():
        raise InputFileError(path, "model file not found")
    return path


def load_failed(path: Path, engine: str, exc: BaseException) -> InputFileError:
    """Wrap an engine's load exception: the user needs the file, not the engine's internals."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputFileError(path, f"{engine} cannot load it (corrupt, truncated or wrong kind): {first}")


def load_backend(name: str, path: str | Path, *, device: str = "auto", **options: Any) -> Backend:
    """Load `path` with the named backend on `device` (auto|cpu|gpu|npu)."""
    info = BACKENDS.get(name)
    check_device(device)
    check_options(info, options)
    if info.factory is None:  # a registry entry without a factory is a programming error
        raise InvalidOptionError(f"backend '{name}' cannot load models")
    return info.factory(Path(path), device=device, **options)


# The registry lives beside the interface so load_backend needs no import of the package that
# re-exports it; each backend module registers itself here on first lookup.
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
