"""Backends by name. Each is one file; its engine is imported only when the backend is loaded.

`engine_missing` says why an engine cannot run here; runtime/auto.py builds backend="auto" on it.
"""

from __future__ import annotations

import sys

from edgephoto.runtime.backends.base import (
    BACKENDS,
    Backend,
    BackendInfo,
    TensorInfo,
    load_backend,
)

# engines whose legacy package also serves (the litert backend loads tflite_runtime too)
ALTERNATIVE_MODULES = {"litert": ("tflite_runtime",)}


def backend_for_target(target: str | None) -> str | None:
    """The backend that runs `target`'s artifacts by default (each BackendInfo says its target)."""
    return next((name for name, info in BACKENDS if target is not None and info.target == target), None)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name, or a broken install
        return False


def engine_installed(name: str) -> bool:
    """Whether backend `name`'s engine module (or its legacy alternative) can be imported."""
    info = BACKENDS.get(name)
    return any(_importable(m) for m in (info.engine_module, *ALTERNATIVE_MODULES.get(name, ())))


def engine_missing(name: str) -> str | None:
    """Why backend `name` cannot run on this machine ("litert not installed: pip install ..."),
    None when its engine is there."""
    info = BACKENDS.get(name)
    if sys.platform not in info.platforms:
        return f"{name} runs on {', '.join(info.platforms)} only"
    if not engine_installed(name):
        return f"{name} not installed: pip install 'edgephoto[{info.extra}]'"
    return None


def target_rank(target: str | None) -> int:
    """Preference among targets when several artifacts fit: the backends' registration order."""
    order = [info.target for _, info in BACKENDS if info.target]
    return order.index(target) if target in order else len(order)


__all__ = ["BACKENDS", "Backend", "BackendInfo", "TensorInfo", "backend_for_target", "engine_installed", "engine_missing",
           "load_backend", "target_rank"]
