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


def target_rank(target: str | None) -> int:
    """Preference among targets when several artifacts fit: the backends' registration order."""
    order = [info.target for _, info in BACKENDS if info.target]
    return order.index(target) if target in order else len(order)


__all__ = ["BACKENDS", "Backend", "BackendInfo", "TensorInfo", "backend_for_target", "load_backend", "target_rank"]
