"""Backends by name. Each is one file; its engine is imported only when the backend is loaded."""

from __future__ import annotations

from edgephoto.runtime.backends.base import (
    BACKENDS,
    Backend,
    BackendInfo,
    TensorInfo,
    load_backend,
)


def backend_for_target(target: str | None) -> str | None:
    """The backend that runs `target`'s artifacts by default (each BackendInfo says its target)."""
    return next((name for name, info in BACKENDS if target is not None and info.target == target), None)


def preferred_target(extra: dict | None) -> str | None:
    """The target a model's facts name as its fastest (extra["preferred_target"], measured), when
    the engine that runs it is installed: the default when the caller names no backend."""
    import importlib.util

    target = (extra or {}).get("preferred_target")
    backend = backend_for_target(target)
    if backend is None:
        return None
    try:
        return target if importlib.util.find_spec(BACKENDS.get(backend).engine_module) is not None else None
    except (ImportError, ValueError):  # a finder that refuses the name, or a broken install
        return None


def target_rank(target: str | None) -> int:
    """Preference among targets when several artifacts fit: the backends' registration order."""
    order = [info.target for _, info in BACKENDS if info.target]
    return order.index(target) if target in order else len(order)


__all__ = ["BACKENDS", "Backend", "BackendInfo", "TensorInfo", "backend_for_target", "load_backend",
           "preferred_target", "target_rank"]
