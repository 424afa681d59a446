"""Tasks by name: per-task pre/post-processing above any backend (backend-agnostic).

Each entry's `run(backend, facts, rgb, **options)` takes a loaded Backend, the artifact's
manifest facts (dict, ModelSpec or ModelFacts) and an (H, W, 3) uint8 photo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgephoto.registry import Registry


@dataclass(frozen=True)
class TaskInfo:
    name: str
    run: Callable[..., Any]
    returns: str  # what run() gives back, for docs and the CLI


TASKS: Registry[TaskInfo] = Registry("task", modules=("edgephoto.runtime.tasks.registry",))

__all__ = ["TASKS", "TaskInfo"]
