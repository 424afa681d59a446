"""Benchmarks: cold load, interleaved timed runs, peak memory; JSON results and reports.

Names are imported lazily: the benchmark's child process runs `python -m edgephoto.bench.child`,
which must not find that module already imported by this package (the runner imports it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA", "BenchSettings", "benchmark"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from edgephoto.bench import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'edgephoto.bench' has no attribute '{name}'")
