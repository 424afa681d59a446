"""Benchmark scripts are not run by the tests, so check that every edgephoto name they import
still exists (a renamed or removed helper breaks a benchmark silently otherwise)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _imports(script: Path) -> list[tuple[str, str, int]]:
    tree = ast.parse(script.read_text(), str(script))
    return [(node.module, alias.name, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "edgephoto"
            for alias in node.names]


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_benchmark_imports_exist(script: Path) -> None:
    missing = []
    for module, name, line in _imports(script):
        loaded = importlib.import_module(module)
        if not hasattr(loaded, name) and importlib.util.find_spec(f"{module}.{name}") is None:
            missing.append(f"{script.name}:{line}: {module}.{name}")
    assert not missing, "benchmarks import names that no longer exist:\n" + "\n".join(missing)
