"""`edgephoto bench` end to end on tiny ONNX artifacts: real child processes, real onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_runner import run
from edgephoto.bench.report import validate
from edgephoto.bench.runner import SCHEMA, prepare_feeds
from edgephoto.manifest import file_entries, read_manifest, write_manifest
from edgephoto.quantize.calibration import builtin_photos_dir
from edgephoto.runtime.artifact import load_artifact

from .tiny import tiny_artifact


def test_two_artifacts_interleaved_with_baseline_ratios(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tiny_artifact(tmp_path, convs=1)
    second = tiny_artifact(tmp_path, convs=6, precision="int8")
    out_json, md = tmp_path / "r" / "results.json", tmp_path / "r" / "report.md"
    code, out, err = run(["bench", str(first), str(second), "--runs", "7", "--warmup", "1", "--threads", "1",
                          "--json", "--out", str(out_json), "--report", str(md)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert validate(data) and data["schema"] == SCHEMA
    assert data == json.loads(out_json.read_text())
    assert set(data["machine"]) >= {"cpu", "engines", "platform", "load_average"}
    assert data["machine"]["engines"]["onnxruntime"]["version"]
    base, other = data["results"]
    for result in (base, other):
        assert result["backend"]["backend"] == "onnxruntime" and result["backend"]["threads"] == 1
        assert result["backend"]["device"] == "cpu" and result["backend"]["accelerator"]
        assert len(result["samples_ms"]) == 7 and result["latency_ms"]["n"] == 7
        lat = result["latency_ms"]
        assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert lat["median"] == sorted(result["samples_ms"])[3]
        assert result["cpu_ms"]["median"] == sorted(result["cpu_samples_ms"])[3] > 0
        assert result["peak_rss_mb"] >= result["base_rss_mb"] > 10  # a Python with numpy at least
        assert result["load"]["cold_start_ms"] > result["load"]["load_ms"] > 0
        assert result["feed"] == {"x": {"shape": [1, 16, 16, 3], "dtype": "float32"}}
        assert result["size_bytes"] == sum(e["bytes"] for e in read_manifest(Path(result["artifact"]))["files"])
    assert base["vs_baseline"] is None
    vs = other["vs_baseline"]
    assert vs["baseline"] == base["label"] == "tiny onnx-fp32"
    assert vs["speedup_median"] == pytest.approx(base["latency_ms"]["median"] / other["latency_ms"]["median"])
    assert vs["size_ratio"] > 1  # six convs weigh more than one
    assert other["quality"] == {"parity_metric": "iou", "parity_value": 0.998, "parity_max_abs": 1e-6,
                                "accuracy_metric": "iou", "accuracy_drop": 0.004, "accuracy_unit": "IoU"}
    peak = data["machine"]["peak"]
    assert peak["threads"] == 1 and peak["fp32_gflops"] > 1 and peak["int8_gops"] > 1
    assert peak["blas"] is None or peak["blas"].endswith(" 1 thread(s)")  # the child's BLAS took the setting
    conv = 3 * 16 * 16 * 3 * 9  # 3x3 conv 3->3 channels on 16x16, no bias: MACs counted by hand
    for result, convs, unit, key in ((base, 1, "GFLOP/s", "fp32_gflops"), (other, 6, "GOP/s", "int8_gops")):
        work = result["work"]
        assert (work["macs"], work["flops"]) == (convs * conv, 2 * convs * conv)
        assert work["counted_on_self"] and work["unit"] == unit and work["peak"] == peak[key]
        assert work["achieved"] == pytest.approx(work["flops"] / result["latency_ms"]["median"] / 1e6)
        assert work["fraction_of_peak"] == pytest.approx(work["achieved"] / work["peak"])
    text = md.read_text()
    assert "| tiny onnx-int8 |" in text and "| baseline |" in text
    assert "## Work per inference" in text and "Machine peak in this run, 1 thread(s): fp32" in text


def test_render_again_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tiny_artifact(tmp_path)
    results = tmp_path / "results.json"
    code, _, err = run(["bench", str(artifact), "--runs", "3", "--warmup", "0", "--input", "random",
                        "--no-peak", "--out", str(results)], capsys)
    assert code == 0, err
    assert "loading 1/1" in err and "timed run 3/3" in err  # progress on stderr
    code, _, err = run(["bench", "--render", str(results), "--report", str(tmp_path / "again.html")], capsys)
    assert code == 0, err
    page = (tmp_path / "again.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "tiny onnx-fp32" in page
    # one bar chart, then the plots: distribution, speed vs quality (parity iou known), size
    assert page.count("<svg") == 4 and page.count("data-plot=") == 3
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained


def test_feeds_follow_the_manifest(tmp_path: Path) -> None:
    artifact = tiny_artifact(tmp_path, layout="NCHW", color="Y", size=24)
    backend, manifest = load_artifact(artifact)
    real = prepare_feeds(backend, manifest, "real", None)
    photos = len(list(builtin_photos_dir().glob("*.jpg")))
    assert len(real) == min(4, photos)
    for feed in real:
        assert feed["x"].shape == (1, 1, 24, 24) and feed["x"].dtype == np.float32
        assert 0.0 <= feed["x"].min() and feed["x"].max() <= 1.0  # std 255: 0..1
    assert not np.array_equal(real[0]["x"], real[1]["x"])  # different photos
    noise = prepare_feeds(backend, manifest, "random", None)
    assert np.array_equal(noise[0]["x"], prepare_feeds(backend, manifest, "random", None)[0]["x"])
    backend.run(real[0])  # the engine accepts them as they are


def test_photos_dir_without_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tiny_artifact(tmp_path)
    (tmp_path / "empty").mkdir()
    code, _, err = run(["bench", str(artifact), "--runs", "1", "--photos", str(tmp_path / "empty")], capsys)
    assert code == 4 and "no photos" in err  # raised in the child, same class in the parent


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_directory_without_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").mkdir()
    code, _, err = run(["bench", str(tmp_path / "plain")], capsys)
    assert code == 4 and "no manifest.json" in one_line(err)
    code, _, err = run(["bench", str(tmp_path / "absent")], capsys)
    assert code == 4 and "no such artifact directory" in one_line(err)


def test_tampered_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tiny_artifact(tmp_path, name="good")
    bad = tiny_artifact(tmp_path, name="bad")
    with open(bad / "bad.onnx", "ab") as handle:
        handle.write(b"\0")
    code, out, err = run(["bench", str(good), str(bad), "--runs", "1"], capsys)
    assert code == 6 and "sha256" in one_line(err) and "bad.onnx" in err
    assert out == ""  # nothing measured: artifacts are checked before any process starts


def test_corrupt_model_with_matching_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tiny_artifact(tmp_path)
    (artifact / "tiny.onnx").write_bytes(b"not a model")
    manifest = read_manifest(artifact)
    manifest["files"] = file_entries(artifact, [artifact / "tiny.onnx"])
    write_manifest(artifact, manifest)
    code, _, err = run(["bench", str(artifact), "--runs", "1"], capsys)
    assert code == 4 and "cannot load it" in one_line(err)


@pytest.mark.parametrize(("argv", "code", "text"), [
    (["--runs", "0"], 2, "--runs must be at least 1"),
    (["--report", "out.pdf"], 2, "--report must end in .md or .html"),
    (["--backend", "onnxruntme"], 2, "Did you mean 'onnxruntime'"),
    (["--device", "tpu"], 2, "unknown device 'tpu'"),
])
def test_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                       text: str) -> None:
    artifact = tiny_artifact(tmp_path)
    got, _, err = run(["bench", str(artifact), *argv], capsys)
    assert got == code and text in one_line(err)


def test_render_refuses_other_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "manifest.json"
    other.write_text(json.dumps({"schema": 1, "model": "x"}))
    code, _, err = run(["bench", "--render", str(other), "--report", str(tmp_path / "r.md")], capsys)
    assert code == 4 and "not edgephoto bench results" in one_line(err)
    assert not (tmp_path / "r.md").exists()
    code, _, err = run(["bench"], capsys)
    assert code == 2 and "ARTIFACT_DIR" in one_line(err)
