"""What every executor needs to run a photo the same way: the job, picklable as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    order: tuple[str, ...]  # planned steps
    out_dir: Path
    backend: str | None
    device: str
    options: dict[str, dict[str, Any]]
    protect: tuple[Path, ...]  # the inputs: no write may land on one
    threads: int | None = None  # engine threads per worker (None: the engine's default)
