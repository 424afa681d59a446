"""The measured fastest-engine table shipped with the zoo (fastest_engines.json): data only.

Written by benchmarks/fastest_engine.py: per zoo model and precision, per CPU class, the
engines ranked by the median latency measured there (1 thread, interleaved runs, real inputs),
with the benchmark and the date it came from. A CPU class nobody measured stays absent; the
rule that reads the table (runtime.auto.auto_backend) then takes `default_order`.

The file is validated when read: a table that does not follow the schema is refused, never
half-used.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgephoto.errors import InputFileError

SCHEMA = 1
TABLE_PATH = Path(__file__).with_name("fastest_engines.json")
# CPU classes, most specific first; cpu_class() names this machine's
CPU_CLASSES = ("x86_64-avx512_vnni", "x86_64-avx512", "x86_64-avx2", "x86_64", "aarch64-dotprod", "aarch64")


@dataclass(frozen=True)
class Measured:
    """One engine in a ranking: its median latency there."""

    backend: str
    median_ms: float


@dataclass(frozen=True)
class Ranking:
    """Engines for one model/precision on one CPU class, fastest first, and where from."""

    model: str
    precision: str
    cpu_class: str
    engines: tuple[Measured, ...]
    benchmark: str
    results: str
    date: str
    cpu: str = ""

    def ratio(self, backend: str, baseline: str) -> float | None:
        """backend's median over baseline's (0.5 = twice as fast), when both were measured."""
        times = {m.backend: m.median_ms for m in self.engines}
        if backend in times and baseline in times and times[baseline] > 0:
            return times[backend] / times[baseline]
        return None


@dataclass(frozen=True)
class FastestTable:
    default_order: tuple[str, ...]
    rankings: dict[tuple[str, str, str], Ranking]  # (model, precision, cpu class) -> ranking
    path: Path

    def ranking(self, model: str, precision: str, cpu_class: str) -> Ranking | None:
        return self.rankings.get((model, precision, cpu_class))


def cpu_class(facts: dict[str, Any]) -> str:
    """The table's name for a CPU from runtime.devices.cpu_facts(): arch plus the SIMD level
    that decides which engine's kernels win (VNNI int8 dot products, AVX-512, AVX2, ARM dotprod)."""
    arch = str(facts.get("arch", "")).lower()
    features = facts.get("features", {})
    if arch in ("x86_64", "amd64"):
        if features.get("avx512") and features.get("vnni"):
            return "x86_64-avx512_vnni"
        if features.get("avx512"):
            return "x86_64-avx512"
        return "x86_64-avx2" if features.get("avx2") else "x86_64"
    if arch in ("aarch64", "arm64"):
        return "aarch64-dotprod" if features.get("vnni") else "aarch64"
    return arch or "unknown"


def _fail(path: Path, problem: str) -> InputFileError:
    return InputFileError(path, f"fastest-engine table: {problem}")


def _text(entry: dict[str, Any], key: str, path: Path, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(path, f"{where}: '{key}' must be a non-empty string")
    return value


def parse_table(data: Any, path: Path, backends: tuple[str, ...] | None = None) -> FastestTable:
    """Validate and read the table; `backends` (registered names) refuses unknown engines."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise _fail(path, f"expected an object with schema {SCHEMA}")
    order = data.get("default_order")
    if not isinstance(order, list) or not order or not all(isinstance(b, str) for b in order):
        raise _fail(path, "'default_order' must be a non-empty list of backend names")
    known = set(backends) if backends is not None else None
    for name in order:
        if known is not None and name not in known:
            raise _fail(path, f"default_order names unknown backend '{name}'")
    models = data.get("models")
    if not isinstance(models, dict):
        raise _fail(path, "'models' must map model -> precision -> cpu class -> ranking")
    rankings: dict[tuple[str, str, str], Ranking] = {}
    for model, precisions in models.items():
        if not isinstance(precisions, dict):
            raise _fail(path, f"{model}: expected precision -> cpu class -> ranking")
        for precision, classes in precisions.items():
            if not isinstance(classes, dict):
                raise _fail(path, f"{model} {precision}: expected cpu class -> ranking")
            for klass, entry in classes.items():
                where = f"{model} {precision} {klass}"
                if klass not in CPU_CLASSES:
                    raise _fail(path, f"{where}: unknown cpu class (known: {', '.join(CPU_CLASSES)})")
                if not isinstance(entry, dict) or not isinstance(entry.get("engines"), list) or not entry["engines"]:
                    raise _fail(path, f"{where}: 'engines' must be a non-empty list")
                engines = []
                for item in entry["engines"]:
                    name = item.get("backend") if isinstance(item, dict) else None
                    ms = item.get("median_ms") if isinstance(item, dict) else None
                    if not isinstance(name, str) or (known is not None and name not in known):
                        raise _fail(path, f"{where}: unknown backend {name!r}")
                    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
                        raise _fail(path, f"{where} {name}: 'median_ms' must be a positive number")
                    engines.append(Measured(name, float(ms)))
                if [m.median_ms for m in engines] != sorted(m.median_ms for m in engines):
                    raise _fail(path, f"{where}: engines must be ranked fastest first")
                if len({m.backend for m in engines}) != len(engines):
                    raise _fail(path, f"{where}: an engine is listed twice")
                rankings[(model, precision, klass)] = Ranking(
                    model, precision, klass, tuple(engines), _text(entry, "benchmark", path, where),
                    _text(entry, "results", path, where), _text(entry, "date", path, where),
                    str(entry.get("cpu", "")))
    return FastestTable(tuple(order), rankings, path)


def load_table(path: Path | None = None, backends: tuple[str, ...] | None = None) -> FastestTable:
    """The shipped table (or `path`), validated; read once per file version."""
    path = path or TABLE_PATH
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise InputFileError(path, f"fastest-engine table unreadable: {exc}") from None
    return _load(path, stamp, backends)


@functools.lru_cache(maxsize=8)
def _load(path: Path, stamp: int, backends: tuple[str, ...] | None) -> FastestTable:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputFileError(path, f"fastest-engine table unreadable: {exc}") from None
    except ValueError as exc:
        raise _fail(path, f"not JSON: {exc}") from None
    return parse_table(data, path, backends)
