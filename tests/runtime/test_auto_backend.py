"""backend="auto": the fastest installed engine by the zoo's measured table, with the reason."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import edgephoto
from cli_runner import run
from edgephoto.runtime.auto import auto_backend
from edgephoto.runtime.backends import engine_missing
from edgephoto.runtime.devices import cpu_facts
from edgephoto.zoo.fastest import cpu_class, load_table

HERE = cpu_class(cpu_facts())


def table(tmp_path: Path, ranking: list[tuple[str, float]], *, klass: str = HERE, model: str = "fsrcnn-x2",
          order: tuple[str, ...] = ("onnxruntime", "openvino", "litert")) -> Path:
    """A table in the shipped schema ranking `model` on `klass` as given (fastest first)."""
    path = tmp_path / "fastest_engines.json"
    path.write_text(json.dumps({"schema": 1, "default_order": list(order), "models": {model: {"fp32": {klass: {
        "engines": [{"backend": b, "median_ms": ms} for b, ms in ranking],
        "benchmark": "benchmarks/fastest_engine.py", "results": "benchmarks/results/fastest_engine.json",
        "date": "2026-12-02"}}}}}))
    return path


def installed(*names: str) -> None:
    for name in names:
        if engine_missing(name):
            pytest.skip(engine_missing(name) or "")


@pytest.mark.parametrize("first", ["litert", "openvino", "onnxruntime"])
def test_auto_takes_the_tables_fastest_when_it_is_installed(first: str, tmp_path: Path) -> None:
    installed("litert", "openvino", "onnxruntime")
    others = [b for b in ("litert", "openvino", "onnxruntime") if b != first]
    ranking = [(first, 5.0), (others[0], 8.0), (others[1], 10.0)]
    choice = auto_backend("fsrcnn-x2", table=load_table(table(tmp_path, ranking)))
    assert choice.backend == first
    assert choice.reason.startswith(f"{first}: fastest measured for fsrcnn-x2 fp32 on {HERE}")
    assert "benchmarks/results/fastest_engine.json, 2026-12-02" in choice.reason
    baseline = "onnxruntime" if first != "onnxruntime" else others[1]  # the old default, else the slowest
    assert f"{5.0 / dict(ranking)[baseline]:.2f}x of {baseline}'s time" in choice.reason


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs there")
def test_the_tables_first_choice_absent_here_falls_to_the_next_with_the_reason(tmp_path: Path) -> None:
    """coreml is a real engine that cannot run on this platform: the table's first, passed over."""
    installed("onnxruntime")
    ranking = [("coreml", 1.0), ("onnxruntime", 4.0)]
    choice = auto_backend("fsrcnn-x2", table=load_table(table(tmp_path, ranking)))
    assert choice.backend == "onnxruntime"
    assert choice.reason.startswith(f"onnxruntime: fastest usable measured for fsrcnn-x2 fp32 on {HERE}")
    assert "coreml runs on darwin only" in choice.reason


def test_an_engine_without_artifact_is_passed_over(tmp_path: Path) -> None:
    installed("litert", "onnxruntime")
    ranking = [("litert", 1.0), ("onnxruntime", 2.0)]
    choice = auto_backend("fsrcnn-x2", table=load_table(table(tmp_path, ranking)),
                          usable=lambda name: name != "litert")
    assert choice.backend == "onnxruntime"
    assert "litert: no fsrcnn-x2 artifact for it and none can be built" in choice.reason


def test_a_cpu_class_nobody_measured_takes_the_default_order(tmp_path: Path) -> None:
    installed("openvino")
    path = table(tmp_path, [("litert", 1.0)], klass="aarch64", order=("openvino", "onnxruntime", "litert"))
    choice = auto_backend("fsrcnn-x2", table=load_table(path), cpu={"arch": "x86_64", "features": {"avx2": True}})
    assert choice.backend == "openvino"
    assert choice.reason == ("openvino: no measurement for fsrcnn-x2 fp32 on x86_64-avx2; first usable in the "
                             "default order openvino > onnxruntime > litert")


def test_the_shipped_table_decides_for_this_machine() -> None:
    table = load_table()
    ranking = table.ranking("fsrcnn-x2", "fp32", HERE)
    if ranking is None:
        pytest.skip(f"no measurement for {HERE} in the shipped table")
    fastest = next(m.backend for m in ranking.engines if engine_missing(m.backend) is None)
    assert auto_backend("fsrcnn-x2").backend == fastest


@pytest.mark.real
def test_load_auto_runs_the_fastest_engine_and_says_why(zoo_artifacts: Callable[..., dict[str, object]]) -> None:
    built = zoo_artifacts("fsrcnn-x2", ("onnx", "tflite", "openvino"))
    root = Path(str(built["onnx"].path)).parents[1]  # type: ignore[attr-defined]
    expected = auto_backend("fsrcnn-x2")
    rgb = np.full((20, 30, 3), 128, np.uint8)
    with edgephoto.load("fsrcnn-x2", artifacts=root, threads=1) as model:
        assert model.backend_name == expected.backend and model.backend_reason == expected.reason
        assert model.describe()["backend_reason"] == expected.reason
        auto = model(rgb)
    with edgephoto.load("fsrcnn-x2", artifacts=root, backend="onnxruntime", threads=1) as model:
        assert model.backend_reason == "onnxruntime: named by the caller"
        assert np.abs(model(rgb).astype(int) - auto).max() <= 1  # same model, another engine
    with edgephoto.load(root / "fsrcnn-x2" / "onnx-fp32") as model:  # an artifact dir: its own engine
        assert model.backend_name == "onnxruntime"
        assert model.backend_reason.startswith("onnxruntime: the artifact's own engine (target onnx)")


@pytest.mark.real
@pytest.mark.parametrize("cpu", ["this machine", "a CPU class nobody measured"])
def test_run_with_auto_on_the_real_sample_records_engine_and_reason(
    zoo_artifacts: Callable[..., dict[str, object]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, cpu: str,
) -> None:
    if cpu != "this machine":  # the default order decides, and the summary says so
        import edgephoto.runtime.devices as devices

        facts = {**cpu_facts(), "arch": "riscv64"}
        monkeypatch.setattr(devices, "cpu_facts", lambda: facts)
        assert "no measurement" in auto_backend("fsrcnn-x2").reason
    built = zoo_artifacts("fsrcnn-x2", ("onnx", "tflite", "openvino"))
    root = Path(str(built["onnx"].path)).parents[1]  # type: ignore[attr-defined]
    code, out, err = run(["run", "--steps", "upscale2", "--artifacts", str(root), "--no-build",
                          "--out", str(tmp_path / "out"), "--json"], capsys)
    assert code == 0, err
    (summary,) = json.loads(out)
    used = summary["models"]["upscale2"]
    expected = auto_backend("fsrcnn-x2")
    assert used["backend"] == expected.backend and used["model"] == "fsrcnn-x2"
    assert used["backend_reason"].startswith(f"{expected.backend}: the artifact's own engine")
    assert expected.reason.removeprefix(f"{expected.backend}: ") in used["backend_reason"]
    written = json.loads((tmp_path / "out" / "astronaut.json").read_text())
    assert written["models"]["upscale2"]["backend_reason"] == used["backend_reason"]
    code, out, err = run(["run", "--steps", "upscale2", "--artifacts", str(root), "--no-build", "--backend",
                          "onnxruntime", "--out", str(tmp_path / "named"), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)[0]["models"]["upscale2"]["backend_reason"] == "onnxruntime: named by the caller"
