"""One real benchmark: a zoo model's ONNX and TFLite artifacts, through the CLI, 1 thread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgephoto.bench.report import validate
from edgephoto.cli.main import main


@pytest.mark.real
def test_fsrcnn_onnx_vs_tflite(zoo_artifacts: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = zoo_artifacts("fsrcnn-x2", ("onnx", "tflite"))
    dirs = [str(built[t].path) for t in ("onnx", "tflite")]
    try:
        main(["bench", *dirs, "--threads", "1", "--warmup", "2", "--runs", "8", "--json",
              "--report", str(tmp_path / "r.html")])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err
    data = validate(json.loads(out))
    onnx, tflite = data["results"]
    assert (onnx["backend"]["backend"], tflite["backend"]["backend"]) == ("onnxruntime", "litert")
    assert tflite["backend"]["accelerator"] == "xnnpack" and onnx["backend"]["threads"] == 1
    for result in (onnx, tflite):
        assert result["feed"] == {next(iter(result["feed"])): {"shape": [1, 128, 128, 1], "dtype": "float32"}}
        assert result["latency_ms"]["n"] == 8 and result["latency_ms"]["median"] > 0
        assert result["quality"]["parity_metric"] == "psnr" and result["quality"]["parity_value"] > 50
    assert tflite["vs_baseline"]["baseline"] == "fsrcnn-x2 onnx-fp32"
    # the .tflite is counted on the ONNX artifact beside it: the same network, the same work
    assert onnx["work"]["counted_on_self"] and not tflite["work"]["counted_on_self"]
    assert Path(tflite["work"]["counted_on"]).parent == Path(onnx["artifact"])
    assert tflite["work"]["flops"] == onnx["work"]["flops"] > 2 * onnx["work"]["macs"] > 0
    assert data["machine"]["peak"]["fp32_gflops"] > 0 and 0 < onnx["work"]["fraction_of_peak"]
    assert "fsrcnn-x2 tflite-fp32" in (tmp_path / "r.html").read_text()
