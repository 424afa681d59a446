"""`bench compare` and the report's plots, on synthetic result files: merged numbers, one mark
per artifact in every plot."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run
from edgephoto.bench import plots, report
from edgephoto.bench.compare import merge
from edgephoto.errors import InvalidOptionError

from .test_report import fixed

NS = "{http://www.w3.org/2000/svg}"


def device(cpu: str, arch: str, scale: float) -> dict[str, Any]:
    """The fixed results as if measured on another machine: every latency times `scale`."""
    data = fixed()
    data["machine"]["cpu"].update(model=cpu, arch=arch)
    data["machine"]["platform"] = {"system": "linux", "machine": arch}
    data["machine"]["peak"] = {"threads": 1, "fp32_gflops": 50.0 * scale, "int8_gops": None}
    for r in data["results"]:
        r["latency_ms"] = {k: v * scale if k not in ("n", "outliers") else v for k, v in r["latency_ms"].items()}
        r["samples_ms"] = [r["latency_ms"]["min"], r["latency_ms"]["median"], r["latency_ms"]["max"]]
    return data


def test_merge_labels_devices_and_compares_against_the_first_file() -> None:
    laptop, pi = device("Laptop CPU", "x86_64", 1.0), device("Cortex-A76", "aarch64", 4.0)
    del pi["results"][1]  # the Pi has no TFLite run of model m
    merged = merge([("laptop.json", laptop), ("pi.json", pi)])
    assert report.validate(merged) is merged
    assert [d["label"] for d in merged["devices"]] == ["Laptop CPU (x86_64, linux)", "Cortex-A76 (aarch64, linux)"]
    labels = [r["label"] for r in merged["results"]]
    assert labels == ["m onnx-fp32 [Laptop CPU (x86_64, linux)]", "m tflite-fp32 [Laptop CPU (x86_64, linux)]",
                      "m onnx-fp32 [Cortex-A76 (aarch64, linux)]", "n onnx-fp32 [Laptop CPU (x86_64, linux)]",
                      "n onnx-fp32 [Cortex-A76 (aarch64, linux)]"]  # grouped per model, files in order
    by = {r["label"]: r for r in merged["results"]}
    assert all(by[k]["vs_baseline"] is None for k in labels if "Laptop" in k)
    pi_m = by["m onnx-fp32 [Cortex-A76 (aarch64, linux)]"]["vs_baseline"]
    assert pi_m["baseline"] == "m onnx-fp32 [Laptop CPU (x86_64, linux)]"  # same artifact, not the tflite one
    assert pi_m["median_ratio"] == pytest.approx(4.0) and pi_m["speedup_median"] == pytest.approx(0.25)
    assert pi_m["size_ratio"] == 1.0
    assert by["n onnx-fp32 [Cortex-A76 (aarch64, linux)]"]["vs_baseline"]["p90_ratio"] == pytest.approx(4.0)
    text = report.render_markdown(merged)
    assert "## m" in text and "## n" in text and "- Laptop CPU (x86_64, linux): laptop.json (" in text
    assert "peak fp32 200.0 GFLOP/s" in text  # the Pi's run: 50 x 4
    assert "4.00x slower, size 1.00x" in text


def test_same_machine_twice_is_numbered_and_one_file_is_refused() -> None:
    merged = merge([("a.json", fixed()), ("b.json", fixed())])
    assert [d["label"] for d in merged["devices"]] == ["Test CPU (?, ?)", "Test CPU (?, ?) #2"]
    with pytest.raises(InvalidOptionError, match="at least two"):
        merge([("a.json", fixed())])


def svgs(page: str, kind: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", page, flags=re.S) if f'data-plot="{kind}"' in s]


def test_html_plots_have_one_mark_per_artifact() -> None:
    merged = merge([("laptop.json", device("Laptop CPU", "x86_64", 1.0)), ("pi.json", device("Pi", "aarch64", 4.0))])
    page = report.render_html(merged)
    assert "<script" not in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    distribution = svgs(page, "distribution")
    assert len(distribution) == 2  # models m and n
    assert [len(s.findall(f".//{NS}g[@class='mark']")) for s in distribution] == [4, 2]
    sizes = svgs(page, "size")
    assert [len(s.findall(f"{NS}circle[@class='mark']")) for s in sizes] == [4, 2]
    quality = svgs(page, "quality")
    assert len(quality) == 1  # only model m's onnx runs carry a parity value: one dot per device
    assert len(quality[0].findall(f"{NS}circle[@class='mark']")) == 2
    titles = [c.find(f"{NS}title").text for c in quality[0].findall(f"{NS}circle")]  # type: ignore[union-attr]
    assert titles == ["m onnx-fp32 [Laptop CPU (x86_64, linux)]: 2, 142.6",
                      "m onnx-fp32 [Pi (aarch64, linux)]: 8, 142.6"]


def test_box_geometry_from_the_samples() -> None:
    result = fixed()["results"][0]
    result["samples_ms"] = [1.0, 2.0, 3.0, 4.0, 5.0]
    box = ET.fromstring(plots.box_plot([result], "t"))
    rect = box.find(f".//{NS}g[@class='mark']/{NS}rect")
    assert rect is not None
    # axis 0..5 over 470 px: Q1 2 -> 260 + 188, Q3 4 -> 260 + 376
    assert float(rect.get("x", "")) == pytest.approx(448.0) and float(rect.get("width", "")) == pytest.approx(188.0)


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(device("Laptop CPU", "x86_64", 1.0)))
    b.write_text(json.dumps(device("Pi", "aarch64", 2.0)))
    code, out, err = run(["bench", "compare", str(a), str(b), "--json", "--report", str(tmp_path / "c.html")], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert len(data["results"]) == 6 and [d["file"] for d in data["devices"]] == [str(a), str(b)]
    assert (tmp_path / "c.html").read_text().count('data-plot="distribution"') == 2
    code, _, err = run(["bench", "compare", str(a)], capsys)
    assert code == 2 and "at least two results files" in err
    (tmp_path / "bad.json").write_text("{}")
    code, _, err = run(["bench", "compare", str(a), str(tmp_path / "bad.json")], capsys)
    assert code == 4 and "not edgephoto bench results" in err


def test_speed_vs_quality_shows_the_drop_when_quantized() -> None:
    results = fixed()["results"][:2]  # model m: onnx fp32 (parity psnr), tflite (no quality yet)
    results[1]["quality"] = {"accuracy_metric": "psnr", "accuracy_drop": 0.5, "accuracy_unit": "dB"}
    [svg] = [s for s in plots.model_plots(results) if 'data-plot="quality"' in s]
    dots = ET.fromstring(svg).findall(f"{NS}circle[@class='mark']")
    assert [d.find(f"{NS}title").text for d in dots] == ["m onnx-fp32: 2, 0", "m tflite-fp32: 1, 0.5"]  # type: ignore[union-attr]
    assert "psnr drop (dB), float = 0" in svg
    assert float(dots[0].get("cy", "")) > float(dots[1].get("cy", ""))  # no drop sits lower on the page
