"""Markdown and HTML reports rendered from a fixed results JSON: exact rows, exact bar geometry."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from edgephoto.bench import report
from edgephoto.bench.runner import SCHEMA, compare
from edgephoto.errors import InputFileError, InvalidOptionError


def result(label: str, target: str, median: float, p90: float, **more: Any) -> dict[str, Any]:
    return {
        "label": label, "artifact": f"/a/{label}", "model": more.get("model", "m"), "task": "upscale",
        "target": target, "precision": "fp32", "size_bytes": more.get("size", 2_000_000),
        "backend": {"backend": {"onnx": "onnxruntime", "tflite": "litert"}[target],
                    "requested_device": more.get("requested", "auto"), "device": "cpu",
                    "accelerator": {"onnx": "CPUExecutionProvider", "tflite": "xnnpack"}[target],
                    "threads": 1, "precision_hint": None},
        "warnings": more.get("warnings", []), "feed": {},
        "load": {"verify_ms": 1.0, "import_ms": 100.0, "load_ms": 50.0, "first_run_ms": 20.0, "cold_start_ms": 170.0},
        "latency_ms": {"n": 10, "min": median - 0.5, "median": median, "mean": median + 0.25, "p90": p90,
                       "p99": p90 + 1, "max": p90 + 2, "stdev": 0.5, "mad": 0.25, "iqr": 0.5, "outliers": 0},
        "cpu_ms": {"median": median * 0.75},
        "throughput_per_s": 1000.0 / (median + 0.25), "peak_rss_mb": more.get("rss", 100.0), "base_rss_mb": 30.0,
        "quality": more.get("quality", {}), "samples_ms": [],
    }


def fixed() -> dict[str, Any]:
    results = [
        result("m onnx-fp32", "onnx", 2.0, 3.0, quality={"parity_metric": "psnr", "parity_value": 142.57}),
        result("m tflite-fp32", "tflite", 1.0, 1.5, size=1_000_000, rss=50.0, requested="gpu",
               warnings=["litert: device 'gpu' is not available; falling back to device 'cpu'"]),
        result("n onnx-fp32", "onnx", 40.0, 44.0, model="n"),
    ]
    compare(results)
    return {
        "schema": SCHEMA, "created": "2026-11-26T00:00:00Z", "duration_s": 1.0,
        "settings": {"backend": None, "device": "auto", "threads": 1, "warmup": 5, "runs": 10, "input": "real",
                     "photos": None, "schedule": "round-robin"},
        "machine": {"cpu": {"model": "Test CPU", "cores": 2, "usable_cores": 2, "flags": ["avx2"]},
                    "engines": {"onnxruntime": {"version": "1.0"}, "litert": {"version": "2.0"}},
                    "load_average": {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.5, 1.0]}},
        "results": results,
        "references": [{"model": "m", "what": "TensorFlow 2.21, 1 thread", "median_ms": 5.0, "source": "README"}],
    }


def test_compare_against_the_first_of_each_model() -> None:
    data = fixed()
    onnx, tflite, other = data["results"]
    assert onnx["vs_baseline"] is None and other["vs_baseline"] is None  # first of model n
    assert tflite["vs_baseline"] == {"baseline": "m onnx-fp32", "speedup_median": 2.0, "median_ratio": 0.5,
                                     "p90_ratio": 0.5, "size_ratio": 0.5, "peak_rss_ratio": 0.5,
                                     "cold_start_ratio": 1.0}


def test_markdown_rows() -> None:
    text = report.render_markdown(fixed())
    lines = text.splitlines()
    assert lines[0] == "# edgephoto bench (2026-11-26T00:00:00Z)"
    assert "Test CPU (2 cores usable; flags avx2). Threads 1" in text
    assert "Load average before/after: 1.00, 1.00, 1.00 / 2.00, 1.50, 1.00." in text
    assert "| onnxruntime cpu (CPUExecutionProvider) |" in text
    assert ("| m onnx-fp32 | onnxruntime cpu (CPUExecutionProvider) | 1 | 170.0 | 2.000 | 3.000 | 4.000 | 1.500 "
            "| 5.000 | 0.500 | 1.500 | 444.4 | 100 | 2.00 | baseline | parity psnr 142.6 |") in lines
    assert ("| m tflite-fp32 | litert cpu (xnnpack), asked gpu: fell back | 1 | 170.0 | 1.000 | 1.500 | 2.500 "
            "| 0.500 | 3.500 | 0.500 | 0.750 | 800.0 | 50 | 1.00 | 2.00x faster, size 0.50x | - |") in lines
    assert "| m | TensorFlow 2.21, 1 thread | 5.0 | - | m tflite-fp32 | 1.00 | 0.75 | 5.00x | README |" in lines
    assert "- m tflite-fp32: litert: device 'gpu' is not available; falling back to device 'cpu'" in lines


def test_html_is_self_contained_with_one_chart_per_model(tmp_path: Path) -> None:
    path = report.write_report(fixed(), tmp_path / "out" / "r.html")
    page = path.read_text()
    svgs = [s for s in re.findall(r"<svg.*?</svg>", page, flags=re.S) if "data-plot=" not in s]
    assert len(svgs) == 2  # bar charts of models m and n (the plots are tested in test_plots)
    chart = ET.fromstring(svgs[0])
    ns = "{http://www.w3.org/2000/svg}"
    bars = chart.findall(f"{ns}rect")
    # plot 470 px wide (760 - 260 - 30); top value p90 = 3 -> ticks of 1, axis 0..3
    assert [float(b.get("width", "")) for b in bars] == [pytest.approx(470 * 2 / 3, abs=0.05),
                                                        pytest.approx(470 / 3, abs=0.05)]
    ticks = [t.text for t in chart.findall(f"{ns}text")][1:5]
    assert ticks == ["0", "1", "2", "3"]
    whiskers = [ln for ln in chart.findall(f"{ns}line") if ln.get("stroke") == "#222"]
    assert float(whiskers[0].get("x2", "")) == pytest.approx(260 + 470, abs=0.05)  # p90 3.0 = axis end
    assert "<table>" in page and "m tflite-fp32" in page and "falling back" in page
    assert "<script" not in page and "src=" not in page


def test_labels_are_escaped() -> None:
    data = fixed()
    data["results"][0]["label"] = "<b>&"
    page = report.render_html(data)
    assert "<b>&" not in page and "&lt;b&gt;&amp;" in page
    ET.fromstring(re.findall(r"<svg.*?</svg>", page, flags=re.S)[0])  # still well-formed


def test_validate_names_what_is_missing() -> None:
    data = fixed()
    del data["results"][1]["latency_ms"]["p90"]
    with pytest.raises(InputFileError, match="result 1 lacks latency_ms.p90"):
        report.validate(data)
    with pytest.raises(InputFileError, match="not edgephoto bench results"):
        report.validate({"schema": 1})
    bad = copy.deepcopy(fixed())
    del bad["machine"]
    with pytest.raises(InputFileError, match="without 'machine'"):
        report.validate(bad)
    with pytest.raises(InvalidOptionError, match=".md or .html"):
        report.render(fixed(), ".pdf")


def test_nice_axis_steps() -> None:
    assert [report._nice_step(s) for s in (3.0, 44.0, 0.07, 1200.0)] == [1.0, 10.0, 0.02, 500.0]
