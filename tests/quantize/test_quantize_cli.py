"""`edgephoto quantize` and `edgephoto convert --quantize` from the command line, on a user's own
(tiny, real) ONNX model: calibration options, the guard, and bad input leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_runner import run


def _photos(directory: Path, count: int = 4) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):  # smooth real-looking gradients + noise, 96x80
        y, x = np.mgrid[0:80, 0:96]
        base = np.stack([x * 2.5, y * 3.0, (x + y) * 1.4], axis=-1) + rng.normal(0, 12, (80, 96, 3))
        Image.fromarray(np.clip(base + 20 * i, 0, 255).astype(np.uint8)).save(directory / f"p{i}.png")
    return directory


@pytest.fixture
def user_artifact(tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    _, paths = tiny("upscale")
    capsys.readouterr()  # building the tiny model prints
    # the tiny upscaler is nearest x2 plus a residual: it cannot beat bicubic, by design
    code, out, err = run(["convert", str(paths["onnx"]), "--task", "upscale", "--scale", "2", "--no-sanity",
                          "--target", "onnx", "--out", str(tmp_path / "art"), "--json"], capsys)
    assert code == 0, err
    return Path(json.loads(out)[0]["path"])


def test_quantize_a_user_artifact(user_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in user_artifact.iterdir()}
    code, out, err = run(["quantize", str(user_artifact), "-p", "int8", "--calib", str(_photos(tmp_path / "c")),
                          "--subset-size", "8", "--max-drop", "50", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    manifest = json.loads((Path(result["path"]) / "manifest.json").read_text())
    assert manifest["precision"] == "int8" and manifest["accuracy"]["measured"]
    assert manifest["accuracy"]["data"]["calibration_samples"] == 8
    assert manifest["accuracy"]["float_edges"]  # upscaler default: first conv + head float
    assert {p: p.read_bytes() for p in user_artifact.iterdir()} == before  # input untouched


def test_quantize_edges_int8_and_guard(user_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["quantize", str(user_artifact), "-p", "int8", "--edges-int8", "--max-drop", "-1",
                        "--out", str(tmp_path / "q")], capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 9 and len(errors) == 1 and "accuracy drop on psnr" in errors[0]
    assert not (tmp_path / "q" / user_artifact.parent.name / "onnx-int8").exists()
    assert not [p for p in (tmp_path / "q").rglob("*") if p.is_file()]  # nothing half-written


def test_quantize_bad_calibration_dir(user_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(["quantize", str(user_artifact), "-p", "int8", "--calib", str(empty),
                        "--out", str(tmp_path / "q")], capsys)
    assert code == 4 and "no photos" in err
    assert not [p for p in (tmp_path / "q").rglob("*") if p.is_file()]


def test_convert_quantize_takes_calibration_options(tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, paths = tiny("upscale")
    capsys.readouterr()
    code, out, err = run(["convert", str(paths["onnx"]), "--task", "upscale", "--scale", "2", "--no-sanity", "--target", "onnx",
                          "--quantize", "fp32,int8", "--calib", str(_photos(tmp_path / "c")), "--subset-size", "6",
                          "--max-drop", "50", "--out", str(tmp_path / "art"), "--json"], capsys)
    assert code == 0, err
    int8 = next(r for r in json.loads(out) if r["precision"] == "int8")
    assert int8["parity"]["data"]["calibration_samples"] == 6


def test_quantize_model_name_needs_a_target(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["quantize", "fsrcnn-x2", "-p", "int8", "--out", str(tmp_path)], capsys)
    assert code == 2 and "needs --target" in err
    code, _, err = run(["quantize", "fsrcnn-x9", "-p", "int8", "-t", "onnx"], capsys)
    assert code == 2 and "Did you mean" in err
    code, _, err = run(["quantize", "isnet", "-p", "int8", "-t", "onnx", "--out", str(tmp_path)], capsys)
    assert code == 12 and "--accept-licence AGPL-3.0" in err
    assert "--accept-licence" in run(["quantize", "--help"], capsys)[1]


@pytest.mark.real
def test_quantize_zoo_model_by_name(zoo_weights, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo_weights("fsrcnn-x2")  # in the session's weight cache (its env is set): nothing downloads
    code, out, err = run(["quantize", "fsrcnn-x2", "-t", "onnx", "-p", "fp16", "--out", str(tmp_path),
                          "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert Path(result["path"]) == tmp_path / "fsrcnn-x2" / "onnx-fp16"
    assert (tmp_path / "fsrcnn-x2" / "onnx-fp32" / "manifest.json").exists()  # built first
    assert result["accuracy"]["drop"] < 0.5

