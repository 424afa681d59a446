"""`edgephoto convert --executor ray` on the real two-node local Ray cluster (tests/cli/conftest.py):
one task per model, artifacts shipped back and installed under --out as a local run installs them,
journalled; a rerun converts nothing. Plus the options' refusals, which need no cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import run
from edgephoto.batch.journal import JOURNAL_NAME
from edgephoto.manifest import read_manifest, verify

MODELS = ("fsrcnn-small-x2", "fsrcnn-small-x3")  # ship inside the package, convert in seconds
TARGETS = ("onnx", "tflite")


def _same_build(ray_built: Path, local_built: Path) -> bool:
    """tflite: byte for byte. onnx: the same ops in the same order (tf2onnx numbers the names of
    the nodes it adds from a per-process counter, so two local runs differ in those bytes too)."""
    ours, theirs = read_manifest(ray_built)["files"], read_manifest(local_built)["files"]
    if ray_built.name.startswith("tflite"):
        return [(f["path"], f["sha256"]) for f in ours] == [(f["path"], f["sha256"]) for f in theirs]
    import onnx

    ops = [[n.op_type for n in onnx.load(root / f[0]["path"]).graph.node] for root, f in
           ((ray_built, ours), (local_built, theirs))]
    return ops[0] == ops[1] and len(ops[0]) > 0


@pytest.mark.real
def test_a_ray_sweep_installs_what_a_local_conversion_builds_and_a_rerun_does_nothing(
    tmp_path: Path, zoo_weights: object, zoo_artifacts: object,
    ray_cluster: tuple[str, dict[str, str], str],
) -> None:
    pytest.importorskip("ray", reason="the ray extra: pip install 'edgephoto[ray]'")
    address, env, _ = ray_cluster
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "edgephoto.cli.main", "convert", "--model", ",".join(MODELS),
            "--target", ",".join(TARGETS), "--out", str(out), "--executor", "ray", "--address", address,
            "--json"]
    environ = {**env, **os.environ, "HOME": env["HOME"]}  # the zoo_weights fixture's weights and cache
    first = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=150)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = json.loads(first.stdout)
    assert [(r["model"], r["target"], r["precision"]) for r in rows] == [
        (m, t, "fp32") for m in MODELS for t in TARGETS]  # the local order
    entries = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]
    assert len(entries) == len(rows)
    assert len({e["worker"]["pid"] for e in entries}) == 2  # one task per model, on both nodes' CPUs
    for row in rows:
        artifact = Path(row["path"])
        assert row["ok"] and row["error"] is None and artifact.parent.parent == out
        verify(artifact)
        assert row["parity"]["outputs"] and row["size_bytes"] > 0
        local = zoo_artifacts(row["model"], TARGETS)[row["target"]]  # the same model converted here
        assert _same_build(artifact, Path(local.path))
        for name, numbers in local.parity["outputs"].items():  # the same parity, measured on the node
            assert row["parity"]["outputs"][name] == pytest.approx(numbers, rel=1e-5, abs=1e-7)
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.name != JOURNAL_NAME]  # no temp left
    manifests = {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")}

    again = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=90)
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads(again.stdout)
    assert [(r["model"], r["target"], r["path"], r["ok"]) for r in rerun] == [
        (r["model"], r["target"], r["path"], True) for r in rows]
    assert [r["parity"] for r in rerun] == [r["parity"] for r in rows]
    assert (out / JOURNAL_NAME).read_text().count("\n") == len(rows)  # nothing journalled twice
    assert {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")} == manifests  # nothing rebuilt


def test_address_needs_the_ray_executor_and_ray_converts_zoo_models_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["convert", "--model", MODELS[0], "--address", "127.0.0.1:1", "--out",
                        str(tmp_path)], capsys)
    assert code != 0 and "--address" in err and "Traceback" not in err
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read")
    code, _, err = run(["convert", str(model), "--task", "upscale", "--executor", "ray", "--out",
                        str(tmp_path / "out")], capsys)
    assert code != 0 and "zoo models" in err and "Traceback" not in err
    assert model.read_bytes() == b"not read"


def test_a_missing_ray_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when absent
    code, _, err = run(["convert", "--model", MODELS[0], "--target", "onnx", "--executor", "ray",
                        "--out", str(tmp_path)], capsys)
    assert code != 0 and "edgephoto[ray]" in err and "Traceback" not in err
    assert not (tmp_path / MODELS[0]).exists()
