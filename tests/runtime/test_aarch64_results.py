"""The committed aarch64 results still describe today's artifact and runtime (no emulation here).

scripts/aarch64_check.sh found FastDepth's int8 TFLite bit-identical on emulated aarch64 and on
the host. This re-runs the host side through the same runner: same artifact bytes, same raw
engine outputs. When it fails, the conversion or the depth pre-processing changed and
benchmarks/results/aarch64_check.json is stale: re-run the script.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "aarch64_check.json"
CASE = "fastdepth/tflite-fp32"


def _runner() -> Any:
    spec = importlib.util.spec_from_file_location("aarch64_check", ROOT / "benchmarks" / "aarch64_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_report_is_about_the_runtime_extra_alone() -> None:
    report = json.loads(RESULTS.read_text())
    arm = report["aarch64"]
    assert arm["platform"]["machine"] == "aarch64"
    assert arm["imported_forbidden"] == [] and arm["installed_forbidden"] == []
    binaries = [w for w in report["install"]["wheels"] if w.endswith(".whl") and not w.endswith("-any.whl")]
    assert binaries and all("aarch64" in w for w in binaries), binaries
    assert {r["case"] for r in report["rows"]} >= {CASE}


@pytest.mark.real
def test_host_reproduces_the_bit_identical_aarch64_run(
    zoo_artifacts: Callable[..., dict[str, Any]],
) -> None:
    pytest.importorskip("ai_edge_litert")
    from edgephoto.runtime.image_io import load_sample

    row = next(r for r in json.loads(RESULTS.read_text())["rows"] if r["case"] == CASE)
    assert row["raw_sha256"]["host"] == row["raw_sha256"]["aarch64"]
    artifact = zoo_artifacts("fastdepth", targets=("tflite",))["tflite"]
    runner = _runner()
    facts, _ = runner.run_one(Path(artifact.path), load_sample(runner.PHOTO).rgb)
    assert facts["artifact_sha256"] == row["artifact_sha256"]
    assert facts["raw"]["sha256"] == row["raw_sha256"]["aarch64"], "stale: re-run scripts/aarch64_check.sh"
