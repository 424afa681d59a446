"""Whole-call benchmark: the stage table, the exclusive stage clock, and one real run (the zoo's
FSRCNN on real photos through the runtime, OpenCV as the peer when installed)."""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgephoto.bench.report import render_markdown, stage_rows, validate
from edgephoto.bench.runner import BenchSettings
from edgephoto.bench.stages import STAGES, StageClock
from edgephoto.bench.whole_call import benchmark_calls, photo_list
from edgephoto.runtime.image_io import sample_path


@pytest.mark.parametrize("task", sorted(STAGES))
def test_every_listed_stage_function_exists(task: str) -> None:
    for module_name, functions in STAGES[task].items():
        module = importlib.import_module(module_name)
        for name in functions:
            assert callable(getattr(module, name, None)), f"{module_name}.{name} is gone: update bench/stages.py"


def test_stage_clock_counts_nested_calls_once() -> None:
    clock = StageClock()
    inner = clock.wrap("inner", lambda: sum(range(1000)))

    def outer_body() -> int:
        return inner() + inner()

    outer = clock.wrap("outer", outer_body)
    start = time.perf_counter()
    assert outer() == 2 * sum(range(1000))
    total = time.perf_counter() - start
    assert clock.calls == {"inner": 2, "outer": 1}
    parts = clock.split(total)
    assert set(parts) == {"inner", "outer", "other"} and min(parts.values()) >= 0.0
    # exclusive: the stages add up to no more than the call they are part of
    assert parts["inner"] + parts["outer"] <= total * 1e3 + 1e-9
    clock.reset()
    assert clock.calls == {} and clock.split(0.0) == {"other": 0.0}


@pytest.mark.real
def test_whole_call_fsrcnn_on_real_photos(zoo_artifacts: Any) -> None:
    artifact = zoo_artifacts("fsrcnn-x2", ("onnx",))["onnx"].path
    photos = photo_list(sample_path().parent, 2)
    kept: dict[tuple[str, int], np.ndarray] = {}

    def keep(label: str, k: int, path: Path) -> None:
        kept[(label, k)] = np.load(path)

    data = benchmark_calls("upscale", photos, [str(artifact)], BenchSettings(threads=1, warmup=1, runs=2),
                           backends=["onnxruntime"], peers=[], keep=keep)
    validate(data)
    ours = data["results"][0]
    assert data["mode"] == "call" and ours["mode"] == "call" and ours["backend"]["backend"] == "onnxruntime"
    assert ours["latency_ms"]["n"] == 4 and set(ours["per_photo_ms"]) == {"0", "1"}
    assert {"model", "colour in", "post (colour out)", "other"} <= set(ours["stages_ms"]) and ours["tiles"] >= 1
    assert stage_rows(data)[0][0] == ours["label"]
    from edgephoto.api import as_rgb

    for k, photo in enumerate(photos):
        h, w = as_rgb(photo).shape[:2]
        assert kept[(ours["label"], k)].shape == (2 * h, 2 * w, 3)
    statuses = {s["peer"]: s for s in data["peers"]}
    assert statuses["tensorflow"]["status"] == "not measured"  # it times model runs only
    if importlib.util.find_spec("cv2") is None:
        assert "pip install opencv-contrib-python" in statuses["opencv"]["message"]
        assert len(data["results"]) == 1
    else:
        peer = data["results"][1]
        assert peer["peer"] == "opencv" and peer["latency_ms"]["n"] == 4
        assert set(ours["vs_peers"]) == {peer["label"]}
        assert ours["vs_peers"][peer["label"]]["speedup_median"] == pytest.approx(
            peer["latency_ms"]["median"] / ours["latency_ms"]["median"])
        for k in range(len(photos)):  # the same upscale: OpenCV's output agrees closely with ours
            from edgephoto.metrics import psnr

            assert psnr(kept[(peer["label"], k)], kept[(ours["label"], k)]) > 35
    assert "## Stages of the whole call" in render_markdown(data)


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_whole_call_task_options_are_their_own_contenders(zoo_artifacts: Any) -> None:
    """options=({}, {"zoom": False}): segment()'s default and its single pass, timed side by
    side; on a portrait whose person is small only the default runs the model twice."""
    from shared_dir import PORTRAITS

    artifact = zoo_artifacts("selfie", ("onnx",))["onnx"].path
    photos = [PORTRAITS / "146.jpg", PORTRAITS / "5.jpg"]  # a small person (zooms), a large one
    kept: dict[tuple[str, int], np.ndarray] = {}
    data = benchmark_calls("segmentation", photos, [str(artifact)], BenchSettings(threads=1, warmup=0, runs=1),
                           backends=["onnxruntime"], keep=lambda label, k, path: kept.update({(label, k): np.load(path)}),
                           options=({}, {"zoom": False}))
    validate(data)
    default, single = data["results"]
    assert single["label"] == default["label"] + " zoom=False"
    assert default["tiles"] == 1.5 and single["tiles"] == 1  # model runs per photo: (2 + 1) / 2 and 1
    assert not np.array_equal(kept[(default["label"], 0)], kept[(single["label"], 0)])
    assert np.array_equal(kept[(default["label"], 1)], kept[(single["label"], 1)])


@pytest.mark.parametrize(("argv", "message"), [
    (["--option", "zoom=false", "--model", "selfie"], "--option is a task option for whole-call mode: give --task"),
    (["--task", "segmentation", "--option", "zom=false"], "--option zom: segmentation takes fit, refine, radius, eps, zoom"),
    (["--task", "segmentation", "--option", "zoom"], "--option takes KEY=VALUE pairs"),
    (["--task", "upscale", "--option", "progress=1"], "--option progress: upscale takes batch, overlap, budget_bytes, ramp"),
])
def test_cli_task_options_are_checked_before_anything_runs(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                                          argv: list[str], message: str) -> None:
    from cli_runner import run

    code, _, err = run(["bench", "run", *argv, "--out", str(tmp_path / "r.json")], capsys)
    assert code == 2 and message in err, err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.real
@pytest.mark.shared("data/portraits")
def test_cli_option_adds_the_single_pass_beside_the_default(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                                           zoo_artifacts: Any) -> None:
    import json
    import shutil

    from cli_runner import run
    from shared_dir import PORTRAITS

    artifact = zoo_artifacts("selfie", ("onnx",))["onnx"].path
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(PORTRAITS / "146.jpg", photos)  # a small person: the default looks twice
    code, _, err = run(["bench", "run", str(artifact), "--task", "segmentation", "--photos", str(photos),
                        "--backend", "onnxruntime", "--threads", "1", "--warmup", "0", "--runs", "1",
                        "--option", "zoom=false", "--out", str(tmp_path / "r.json")], capsys)
    assert code == 0, err
    default, single = json.loads((tmp_path / "r.json").read_text())["results"]
    assert single["label"] == default["label"] + " zoom=False"
    assert (default["tiles"], single["tiles"]) == (2, 1)
