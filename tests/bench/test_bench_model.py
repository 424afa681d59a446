"""`edgephoto bench --model NAME`: the zoo model's artifacts built (then reused) and benched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run


@pytest.mark.parametrize(("argv", "text"), [
    (["--target", "onnx"], "--target and --quantize go with --model NAME"),
    (["--model", "fsrcnn-x2", "--quantize", "fp32"], "--quantize fp32: onnx quantizes to"),
    (["--model", "fsrcnn-x2", "--target", "tflit"], "Did you mean 'tflite'"),
    (["--model", "fsrcn-x2"], "Did you mean"),
    (["--model", "fsrcnn-x2", "--render", "r.json"], "give no ARTIFACT_DIR or --model"),
])
def test_model_option_errors(argv: list[str], text: str, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEPHOTO_CACHE", str(tmp_path))  # nothing may be built: the cache stays empty
    code, _, err = run(["bench", *argv], capsys)
    assert code == 2 and text in err, err
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.real
@pytest.mark.slow
def test_builds_then_reuses(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                            tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEPHOTO_CACHE", str(tmp_path))  # FSRCNN's weights ship in the package
    argv = ["bench", "--model", "fsrcnn-x2", "--quantize", "fp16", "--runs", "3", "--warmup", "1",
            "--threads", "1", "--json", "--no-peak"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    data = json.loads(out)
    fp32, fp16 = data["results"]
    assert (fp32["label"], fp16["label"]) == ("fsrcnn-x2 onnx-fp32", "fsrcnn-x2 onnx-fp16")
    assert Path(fp32["artifact"]) == tmp_path / "artifacts" / "fsrcnn-x2" / "onnx-fp32"
    assert Path(fp16["artifact"]).parent == Path(fp32["artifact"]).parent
    for result in (fp32, fp16):  # the same network at the same tile: the same work
        assert result["work"]["counted_on_self"] and result["work"]["flops"] == fp32["work"]["flops"] > 0
        assert result["work"]["unit"] == "GFLOP/s" and result["work"]["fraction_of_peak"] is None  # --no-peak
    assert fp16["vs_baseline"]["baseline"] == "fsrcnn-x2 onnx-fp32"
    built = {r["artifact"]: (Path(r["artifact"]) / "manifest.json").stat().st_mtime_ns for r in data["results"]}
    code, out, err = run(argv, capsys)  # second time: found in the cache, nothing converted or quantized
    assert code == 0, err
    assert {a: (Path(a) / "manifest.json").stat().st_mtime_ns for a in built} == built
    assert [r["artifact"] for r in json.loads(out)["results"]] == [fp32["artifact"], fp16["artifact"]]
