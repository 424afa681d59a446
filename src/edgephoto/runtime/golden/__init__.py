"""Golden vectors: what the Python runtime computes, written as JSON for the web and Android
ports to test themselves against (golden_vectors/README.md gives the schema)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgephoto.files import write_bytes_atomic
from edgephoto.runtime.golden.pixels import postprocess, preprocess
from edgephoto.runtime.golden.plans import blends, tile_plans

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "tile_plans.json": tile_plans,
    "blend.json": blends,
    "preprocess.json": preprocess,
    "postprocess.json": postprocess,
}


def dumps(vectors: dict[str, Any]) -> str:
    """The committed text: compact, one key order, newline at the end."""
    return json.dumps(vectors, separators=(",", ":"), sort_keys=False) + "\n"


def build_all() -> dict[str, str]:
    """File name -> JSON text, computed now by the runtime."""
    return {name: dumps(build()) for name, build in BUILDERS.items()}


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [write_bytes_atomic(directory / name, text.encode()) for name, text in build_all().items()]
